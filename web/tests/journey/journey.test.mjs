// The billing journey in a real headless Chromium against the real local stack and the Stripe
// stand-in: sign up -> set up billing -> Start subscription (cancel once, then pay with 4242… on
// the stand-in's hosted Checkout page) -> badge Active -> usage past 80 % -> warning -> usage past
// the allowance -> overage alert with the exact amount -> Manage subscription -> cancel in the
// stand-in's portal -> back, the badge shows the cancellation -> the period ends -> Canceled.
//
// Screenshots of each step go to web/test-results/journey/ (git-ignored); the usage panel at
// desktop and 320 px width is copied to docs/billing-usage-{desktop,narrow}.png.
//
// Run: cd web && npm ci && node --test tests/journey/journey.test.mjs

import assert from 'node:assert/strict';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { formatDate } from '../../app/view-model.js';
import {
  expectAccessible,
  expectBadge,
  expectNoHorizontalScroll,
  expectNoOverage,
  expectOverage,
  expectReachableByKeyboard,
  expectText,
  expectWarning,
} from '../support/assertions.mjs';
import { DESKTOP, NARROW, launchBrowser } from '../support/browser.mjs';
import { REPO, startLocalStack } from '../support/local-stack.mjs';

const RESULTS = fileURLToPath(new URL('../../test-results/journey/', import.meta.url));
const DOCS = `${REPO}docs/`;
const SESSION_KEY = 'leadmagnet.billing.session';

/** @type {import('../support/local-stack.mjs').RunningStack | undefined} */
let stack;
/** @type {import('playwright-core').Browser | undefined} */
let browser;
/** @type {import('playwright-core').Page} */
let page;
/** @type {string[]} */
const pageErrors = [];

before(async () => {
  await rm(RESULTS, { recursive: true, force: true });
  await mkdir(RESULTS, { recursive: true });
  const started = Date.now();
  stack = await startLocalStack({ logPath: `${RESULTS}local-stack.log` });
  console.log(`# local stack ready at ${stack.apiBase} in ${Date.now() - started} ms (stand-in ${stack.info.stripe_base_url}, allowance mode ${stack.info.allowance_mode})`);
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: DESKTOP });
  page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (error) => pageErrors.push(`${page.url()}: ${error.message}`));
});

after(async () => {
  await browser?.close().catch(() => {});
  await stack?.stop();
});

/** @param {string} name */
async function shot(name) {
  await page.screenshot({ path: `${RESULTS}${name}.png`, fullPage: true });
}

/** The subscription view as the API answers it to the signed-in user. */
async function apiView() {
  const session = await page.evaluate((key) => JSON.parse(sessionStorage.getItem(key) ?? 'null'), SESSION_KEY);
  assert.ok(session?.token, 'signed in');
  const response = await fetch(`${stack?.apiBase}/admin/billing/subscription`, {
    headers: { Authorization: `Bearer ${session.token}` },
  });
  assert.equal(response.status, 200);
  return response.json();
}

/**
 * A GET on the Stripe stand-in's API with its test key.
 * @param {string} path
 */
async function stripeGet(path) {
  const info = /** @type {NonNullable<typeof stack>} */ (stack).info;
  const response = await fetch(`${info.stripe_base_url.replace(/\/+$/, '')}${path}`, {
    headers: { Authorization: `Bearer ${info.stripe_api_key}` },
  });
  assert.equal(response.status, 200, path);
  return response.json();
}

/** The signed-up customer's Stripe customer id (one customer with this email in the stand-in). */
async function stripeCustomerId() {
  const customers = await stripeGet('/v1/customers?email=ann%40example.com');
  assert.equal(customers.data.length, 1);
  return customers.data[0].id;
}

/**
 * Records `cost` dollars of OpenAI cost with the page's local tools, as a person would.
 * @param {string} cost
 */
async function recordUsage(cost) {
  await page.getByLabel('AI (OpenAI) cost in USD').fill(cost);
  await page.getByRole('button', { name: 'Record usage' }).click();
  await expectText(page, '[data-testid="dev-status"]', `Recorded $${cost} of AI cost; usage is updated.`, { timeoutMs: 20000 });
}

// Steps run in order; after a failure the rest are skipped (each needs the one before) and the
// page at the failure is kept as FAILED-<step>.png.
let failed = false;
/**
 * @param {import('node:test').TestContext} t
 * @param {string} name
 * @param {() => Promise<void>} fn
 */
async function step(t, name, fn) {
  if (failed) {
    await t.test(name, { skip: 'an earlier step failed' }, () => {});
    return;
  }
  await t.test(name, async () => {
    const started = Date.now();
    try {
      await fn();
    } catch (error) {
      failed = true;
      await page?.screenshot({ path: `${RESULTS}FAILED-${name.replace(/\W+/g, '-')}.png`, fullPage: true }).catch(() => {});
      throw error;
    } finally {
      console.log(`# ${name}: ${Date.now() - started} ms`);
    }
  });
}

test('billing journey in a real browser against the local stack', { timeout: 300000 }, async (t) => {
  const api = /** @type {NonNullable<typeof stack>} */ (stack).apiBase;
  const stripeBase = /** @type {NonNullable<typeof stack>} */ (stack).info.stripe_base_url.replace(/\/+$/, '');
  /** @type {any} */
  let view;

  await step(t, 'sign up lands on Set up billing', async () => {
    await page.goto(`${api}/`);
    await expectText(page, 'h1', 'Sign up');
    await page.getByLabel('Email').fill('ann@example.com');
    await page.getByLabel('Name').fill('Ann Example');
    await shot('01-sign-up');
    await expectAccessible(page);
    await page.getByLabel('Name').press('Enter');
    await expectText(page, 'h1', 'Set up billing');
    await expectText(page, '[data-testid="plan-price"]', '$29.00');
    const text = await page.locator('[data-testid="setup-billing"]').innerText();
    assert.match(text, /\$10\.00 of AI usage included every month/);
    assert.match(text, /billed at 2× what the AI provider charges/);
    view = await apiView();
    assert.equal(view.status, 'none');
    await shot('02-setup-billing');
    await expectAccessible(page);
  });

  await step(t, 'a canceled checkout comes back with its message', async () => {
    await page.getByRole('button', { name: 'Start subscription' }).click();
    await page.waitForURL((url) => url.href.startsWith(`${stripeBase}/c/pay/`));
    await page.getByRole('link', { name: 'Cancel and return' }).click();
    await page.waitForURL((url) => url.href.startsWith(`${api}/`));
    await expectText(page, '[data-testid="notice"]', 'Checkout canceled. You have not been charged; start again whenever you are ready.');
    await expectText(page, 'h1', 'Set up billing');
    await shot('03-checkout-canceled');
  });

  await step(t, 'paying with 4242 4242 4242 4242 on the hosted checkout page', async () => {
    await page.getByRole('button', { name: 'Start subscription' }).click();
    await page.waitForURL((url) => url.href.startsWith(`${stripeBase}/c/pay/`));
    const summary = await page.locator('body').innerText();
    assert.match(summary, /\$29\.00 \/ month/);
    assert.match(summary, /Due today: \$29\.00/);
    await page.getByLabel('Card number').fill('4242 4242 4242 4242');
    await page.getByLabel('Expiry date (MM / YY)').fill('12 / 34');
    await page.getByLabel('Security code (CVC)').fill('123');
    await shot('04-checkout');
    await page.getByRole('button', { name: 'Subscribe' }).click();
    await page.waitForURL((url) => url.href.startsWith(`${api}/`));
  });

  await step(t, 'back in the app: the subscription is Active', async () => {
    await expectBadge(page, 'Active', { timeoutMs: 30000 });
    await expectText(page, '[data-testid="notice"]', 'Payment received. Your subscription is active. Welcome to Lead Magnet AI Pro!');
    view = await apiView();
    assert.equal(view.status, 'active');
    await expectText(page, '[data-testid="next-billing-date"]', /** @type {string} */ (formatDate(view.next_billing_date)));
    await expectText(page, '[data-testid="estimate"]', '$29.00');
    await expectText(page, '[data-testid="usage-figures"]', '$0.00 of $10.00 included (0%)');
    await shot('05-active');
  });

  await step(t, 'usage past 80 % shows the warning', async () => {
    await recordUsage('4.10');
    await expectWarning(page, 82, '$8.20 of $10.00 included (82%)');
    await expectNoOverage(page);
    view = await apiView();
    assert.equal(view.usage.billed_usd, '8.20');
    assert.equal(view.usage.percent_of_allowance_used, 82);
    assert.equal(await page.getByRole('progressbar').getAttribute('aria-valuenow'), '82');
    await shot('06-warning');
  });

  await step(t, 'usage past the allowance shows the overage alert with the exact amount', async () => {
    await recordUsage('2.00');
    await expectOverage(page, '$2.20');
    await expectText(page, '[data-testid="usage-figures"]', '$12.20 of $10.00 included (122%)');
    await expectText(page, '[data-testid="estimate"]', '$31.20');
    await expectText(page, '[data-testid="estimate-parts"]', '$29.00 plan + $2.20 usage');
    view = await apiView();
    assert.deepEqual(
      [view.usage.billed_usd, view.usage.overage_usd, view.usage.estimated_next_invoice_usd],
      ['12.20', '2.20', '31.20'],
    );
    await shot('07-overage');
    await expectAccessible(page);
    await page.locator('main').screenshot({ path: `${RESULTS}usage-panel-desktop.png` });
  });

  await step(t, 'the usage panel reads well at 320 px and is keyboard reachable', async () => {
    await page.setViewportSize(NARROW);
    await expectOverage(page, '$2.20');
    await expectNoHorizontalScroll(page);
    await expectReachableByKeyboard(page, 'Manage subscription');
    await page.evaluate(() => /** @type {HTMLElement | null} */ (document.activeElement)?.blur());
    await page.locator('main').screenshot({ path: `${RESULTS}usage-panel-narrow.png` });
    await shot('08-overage-narrow');
    await page.setViewportSize(DESKTOP);
    await mkdir(DOCS, { recursive: true });
    await copyFile(`${RESULTS}usage-panel-desktop.png`, `${DOCS}billing-usage-desktop.png`);
    await copyFile(`${RESULTS}usage-panel-narrow.png`, `${DOCS}billing-usage-narrow.png`);
  });

  await step(t, 'the checks fail on a wrong overage alert or a wrong badge', async () => {
    // wrong expectations against the real page
    await assert.rejects(expectOverage(page, '$2.21', { timeoutMs: 300 }), /overage alert: expected \$2\.21, the page shows \$2\.20/);
    await assert.rejects(expectBadge(page, 'Past due', { timeoutMs: 300 }), /status badge: expected "Past due", the page shows "Active"/);
    // the right expectations against a page whose alert and badge went wrong
    await page.evaluate(() => {
      const amount = document.querySelector('[data-testid="overage-amount"]');
      const badge = document.querySelector('[data-testid="status-badge"]');
      if (amount) amount.textContent = '$2.21';
      if (badge) badge.textContent = 'Canceled';
    });
    await assert.rejects(expectOverage(page, '$2.20', { timeoutMs: 300 }), /expected \$2\.20, the page shows \$2\.21/);
    await assert.rejects(expectBadge(page, 'Active', { timeoutMs: 300 }), /expected "Active", the page shows "Canceled"/);
    await page.evaluate(() => document.querySelector('[data-testid="overage-alert"]')?.remove());
    await assert.rejects(expectOverage(page, '$2.20', { timeoutMs: 300 }), /the page shows none/);
    // Refresh re-reads the API and the page is right again
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expectOverage(page, '$2.20');
    await expectBadge(page, 'Active');
  });

  await step(t, 'an expired token sends the user back to sign-in', async () => {
    const saved = await page.evaluate((key) => sessionStorage.getItem(key), SESSION_KEY);
    await page.evaluate((key) => {
      const session = JSON.parse(sessionStorage.getItem(key) ?? '{}');
      sessionStorage.setItem(key, JSON.stringify({ ...session, token: 'not-a-valid-token' }));
    }, SESSION_KEY);
    await page.reload();
    await expectText(page, '[data-testid="signin-notice"]', 'Your session has expired. Please sign in again.');
    await expectText(page, 'h1', 'Sign up');
    await shot('09-signed-out');
    await page.evaluate(([key, value]) => sessionStorage.setItem(key, value), [SESSION_KEY, /** @type {string} */ (saved)]);
    await page.goto(`${api}/`);
    await expectBadge(page, 'Active');
  });

  await step(t, 'Manage subscription opens the portal, where the subscription is canceled', async () => {
    await page.getByRole('button', { name: 'Manage subscription' }).click();
    await page.waitForURL((url) => url.href.startsWith(`${stripeBase}/p/session/`));
    await shot('10-portal');
    await page.getByRole('button', { name: 'Cancel subscription' }).click();
    const notice = (await page.getByRole('status').first().innerText()).trim();
    await shot('11-portal-canceled');
    // the portal configuration `billing-admin setup` writes cancels at the period end
    assert.equal(notice, 'Your subscription will end at the end of the current period.');
    await page.getByRole('link', { name: 'Return' }).click();
    await page.waitForURL((url) => url.href.startsWith(`${api}/`));
  });

  await step(t, 'back in the app, the badge shows the cancellation', async () => {
    const end = /** @type {string} */ (formatDate(view.current_period_end));
    await expectBadge(page, `Active until ${end}`, { timeoutMs: 20000 });
    await expectText(page, '[data-testid="status-meaning"]', `You canceled your subscription. It stays active until ${end}, then ends; usage until then is on the final invoice.`);
    // the last invoice bills the period's usage only: the plan does not renew
    await expectText(page, 'h2:has-text("Final invoice")', 'Final invoice');
    await expectText(page, '[data-testid="estimate"]', '$2.20');
    await expectText(page, '[data-testid="estimate-parts"]', '$2.20 usage (the plan does not renew)');
    view = await apiView();
    assert.equal(view.status, 'active');
    assert.equal(view.cancel_at_period_end, true);
    await shot('12-cancellation');
    await expectAccessible(page);
  });

  await step(t, 'when the period ends the subscription is Canceled', async () => {
    await page.getByLabel('Days').fill('32');
    await page.getByRole('button', { name: 'Advance clock' }).click();
    await expectBadge(page, 'Canceled', { timeoutMs: 30000 });
    await expectText(page, '[data-testid="status-meaning"]', 'Your subscription has ended, so the AI features are off. Past invoices stay in Manage subscription.');
    assert.equal(await page.locator('[data-testid="usage-panel"]').count(), 0, 'an ended subscription shows no usage');
    view = await apiView();
    assert.equal(view.status, 'canceled');
    await shot('13-canceled');
    // Stripe's final invoice is what the page estimated: $2.20 of usage, no new month of the plan
    const invoices = await stripeGet(`/v1/invoices?customer=${await stripeCustomerId()}&limit=10`);
    // newest first: the final usage invoice, then the first month paid at Checkout (cents)
    assert.deepEqual(invoices.data.map((/** @type {any} */ i) => i.total), [220, 2900]);
  });

  await step(t, 'no script errors on any page', async () => {
    assert.deepEqual(pageErrors, []);
  });
});
