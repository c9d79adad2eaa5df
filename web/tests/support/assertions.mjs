// What the browser tests check on the billing page, as helpers that wait for the page to settle
// and fail with the figure the page shows. The negative tests run them against wrong
// expectations and wrong pages, to prove they fail.

import { AssertionError } from 'node:assert';

/**
 * Reads `read()` until `check(value)` holds, or throws with the last value read.
 * @template T
 * @param {() => Promise<T>} read
 * @param {(value: T) => boolean} check
 * @param {(last: T) => string} describe the failure message from the last value
 * @param {number} timeoutMs
 * @returns {Promise<T>}
 */
export async function eventually(read, check, describe, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await read();
      if (check(last)) return last;
    } catch (error) {
      last = /** @type {any} */ (`<unreadable: ${error instanceof Error ? error.message.split('\n')[0] : error}>`);
    }
    if (Date.now() > deadline) throw new AssertionError({ message: describe(last) });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The visible text of the first element matching `selector`, or null when there is none.
 * @param {import('playwright-core').Page} page
 * @param {string} selector
 */
async function textOf(page, selector) {
  const locator = page.locator(selector).first();
  if ((await locator.count()) === 0 || !(await locator.isVisible())) return null;
  return ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

/**
 * The status badge reads exactly `label`.
 * @param {import('playwright-core').Page} page
 * @param {string} label
 * @param {{timeoutMs?: number}} [options]
 */
export async function expectBadge(page, label, { timeoutMs = 10000 } = {}) {
  await eventually(
    () => textOf(page, '[data-testid="status-badge"]'),
    (text) => text === label,
    (last) => `status badge: expected "${label}", the page shows ${last === null ? 'no badge' : `"${last}"`}`,
    timeoutMs,
  );
}

/**
 * The overage alert is shown, as an alert, with exactly `amount` as the overage so far.
 * @param {import('playwright-core').Page} page
 * @param {string} amount e.g. "$2.20"
 * @param {{timeoutMs?: number}} [options]
 */
export async function expectOverage(page, amount, { timeoutMs = 10000 } = {}) {
  await eventually(
    async () => ({
      role: await page.locator('[data-testid="overage-alert"]').first().getAttribute('role', { timeout: 500 }).catch(() => null),
      amount: await textOf(page, '[data-testid="overage-alert"] [data-testid="overage-amount"]'),
    }),
    (seen) => seen.role === 'alert' && seen.amount === amount,
    (last) =>
      last.amount === null
        ? `overage alert: expected one showing ${amount}, the page shows none`
        : `overage alert: expected ${amount}, the page shows ${last.amount} (role ${last.role})`,
    timeoutMs,
  );
}

/**
 * No overage alert is shown.
 * @param {import('playwright-core').Page} page
 * @param {{timeoutMs?: number}} [options]
 */
export async function expectNoOverage(page, { timeoutMs = 3000 } = {}) {
  await eventually(
    () => textOf(page, '[data-testid="overage-alert"]'),
    (text) => text === null,
    (last) => `overage alert: expected none, the page shows "${last}"`,
    timeoutMs,
  );
}

/**
 * The 80 % warning is shown with `percent`, and the usage figures read `figures`
 * (e.g. "$8.20 of $10.00 included (82%)").
 * @param {import('playwright-core').Page} page
 * @param {number} percent
 * @param {string} figures
 * @param {{timeoutMs?: number}} [options]
 */
export async function expectWarning(page, percent, figures, { timeoutMs = 10000 } = {}) {
  await eventually(
    async () => ({
      warning: await textOf(page, '[data-testid="usage-warning"]'),
      figures: await textOf(page, '[data-testid="usage-figures"]'),
    }),
    (seen) => seen.figures === figures && (seen.warning ?? '').startsWith(`You have used ${percent}% of your included usage.`),
    (last) => `usage warning: expected ${percent}% with "${figures}", the page shows warning ${JSON.stringify(last.warning)} and figures ${JSON.stringify(last.figures)}`,
    timeoutMs,
  );
}

/**
 * The text of `selector` is exactly `expected`.
 * @param {import('playwright-core').Page} page
 * @param {string} selector
 * @param {string} expected
 * @param {{timeoutMs?: number}} [options]
 */
export async function expectText(page, selector, expected, { timeoutMs = 10000 } = {}) {
  await eventually(
    () => textOf(page, selector),
    (text) => text === expected,
    (last) => `${selector}: expected "${expected}", the page shows ${last === null ? 'nothing' : `"${last}"`}`,
    timeoutMs,
  );
}

/**
 * Nothing on the page is wider than the viewport (no sideways scrolling).
 * @param {import('playwright-core').Page} page
 */
export async function expectNoHorizontalScroll(page) {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  if (scroll > client) {
    throw new AssertionError({ message: `the page is ${scroll}px wide in a ${client}px viewport` });
  }
}

/**
 * Pressing Tab from the top of the page reaches a control named `name` within `maxTabs` presses.
 * @param {import('playwright-core').Page} page
 * @param {string} name the control's visible text
 * @param {number} [maxTabs]
 */
export async function expectReachableByKeyboard(page, name, maxTabs = 25) {
  await page.evaluate(() => {
    if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
  });
  const seen = [];
  for (let i = 0; i < maxTabs; i += 1) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => (document.activeElement?.textContent ?? '').replace(/\s+/g, ' ').trim());
    seen.push(focused);
    if (focused === name) return;
  }
  throw new AssertionError({ message: `"${name}" was not reached by Tab; focus went through ${JSON.stringify(seen)}` });
}

/**
 * axe-core finds no accessibility violations (WCAG 2.x A and AA rules) on the page as it is now.
 * @param {import('playwright-core').Page} page
 */
export async function expectAccessible(page) {
  const { readFile } = await import('node:fs/promises');
  const { createRequire } = await import('node:module');
  const source = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  // evaluated through the DevTools protocol, so the page's Content-Security-Policy does not apply
  await page.evaluate(source);
  const violations = await page.evaluate(async () => {
    // @ts-ignore axe is the global the script above defined
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return result.violations.map((/** @type {any} */ v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((/** @type {any} */ n) => n.target.join(' ')).slice(0, 5),
    }));
  });
  if (violations.length > 0) {
    throw new AssertionError({ message: `accessibility violations on ${page.url()}:\n${JSON.stringify(violations, null, 2)}` });
  }
}
