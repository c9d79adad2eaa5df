// The billing screens in a real headless Chromium, against the fake API (documented JSON), one
// page variant per status and usage level: fast checks that need no local stack. The journey
// (tests/journey/) runs the same pages against the real local stack and the Stripe stand-in.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

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
import { startFakeApi } from '../support/fake-api.mjs';
import { view } from '../support/views.mjs';

const SHOTS = fileURLToPath(new URL('../../test-results/pages/', import.meta.url));

/** @type {import('playwright-core').Browser} */
let browser;
/** @type {Awaited<ReturnType<typeof startFakeApi>>} */
let api;

before(async () => {
  await mkdir(SHOTS, { recursive: true });
  api = await startFakeApi();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await api?.close();
});

/**
 * A signed-in page (the session the local sign-in form would keep) showing `subscription`.
 * @param {any} subscription
 * @param {{path?: string, viewport?: {width: number, height: number}, token?: string}} [options]
 */
async function open(subscription, { path = '/', viewport = DESKTOP, token = 'good-token' } = {}) {
  api.state.subscription = subscription;
  api.state.next = null;
  const context = await browser.newContext({ viewport });
  await context.addInitScript((session) => {
    if (!sessionStorage.getItem('leadmagnet.billing.session')) {
      sessionStorage.setItem('leadmagnet.billing.session', JSON.stringify(session));
    }
  }, { token, email: 'ann@example.com', name: 'Ann', customer_id: 'c1' });
  const page = await context.newPage();
  /** @type {string[]} */
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) errors.push(message.text());
  });
  await page.goto(`${api.url}${path}`);
  return { page, context, errors };
}

test('without a subscription the setup page shows the plan and starts a checkout', async () => {
  const { page, context, errors } = await open(view({ status: 'none' }));
  await expectText(page, 'h1', 'Set up billing');
  await expectText(page, '[data-testid="plan-price"]', '$29.00');
  const text = await page.locator('[data-testid="setup-billing"]').innerText();
  assert.match(text, /\$10\.00 of AI usage included every month/);
  assert.match(text, /billed at 2× what the AI provider charges: \$1\.00 of AI cost is billed \$2\.00/);
  assert.match(text, /Today: \$29\.00 for your first month/);
  await page.screenshot({ path: `${SHOTS}setup-billing.png`, fullPage: true });
  await expectAccessible(page);
  // the button is a real button, reached by keyboard, and goes to the session's URL
  await expectReachableByKeyboard(page, 'Start subscription');
  api.state.checkoutUrl = `${api.url}/checkout-stand-in`;
  await Promise.all([page.waitForURL(`${api.url}/checkout-stand-in`), page.keyboard.press('Enter')]);
  assert.deepEqual(api.state.calls.at(-1)?.path, '/admin/billing/checkout-session');
  assert.deepEqual(errors, []);
  await context.close();
});

test('returning from a canceled checkout says nothing was charged', async () => {
  const { page, context } = await open(view({ status: 'none' }), { path: '/?checkout=cancel' });
  await expectText(page, '[data-testid="notice"]', 'Checkout canceled. You have not been charged; start again whenever you are ready.');
  await expectText(page, 'h1', 'Set up billing');
  // the message is shown once: the query is gone from the address
  assert.equal(new URL(page.url()).search, '');
  await context.close();
});

test('returning from checkout before the webhook waits for the subscription, then says it is active', async () => {
  const { page, context } = await open(view({ status: 'none' }), { path: '/?checkout=success' });
  await expectText(page, '[data-testid="notice"]', 'Payment received. Setting up your subscription…');
  api.state.subscription = view({ status: 'active' });
  await expectText(page, '[data-testid="notice"]', 'Payment received. Your subscription is active. Welcome to Lead Magnet AI Pro!');
  await expectBadge(page, 'Active');
  await context.close();
});

test('a 409 on Start subscription shows the API message beside the button', async () => {
  const { page, context } = await open(view({ status: 'none' }), { path: '/#/setup-billing' });
  await expectText(page, 'h1', 'Set up billing');
  api.state.next = { status: 409, body: { error: 'customer c1 already has subscription sub_1 (active); manage it in the billing portal' } };
  await page.getByRole('button', { name: 'Start subscription' }).click();
  await expectText(page, '[data-testid="action-error"]', 'customer c1 already has subscription sub_1 (active); manage it in the billing portal Open Billing & usage to manage it.');
  assert.equal(await page.getByRole('button', { name: 'Start subscription' }).isEnabled(), true);
  await context.close();
});

test('usage at 82 % shows the warning and no overage', async () => {
  const { page, context } = await open(view({ status: 'active', billed: '8.20' }));
  await expectBadge(page, 'Active');
  await expectWarning(page, 82, '$8.20 of $10.00 included (82%)');
  await expectNoOverage(page);
  await expectAccessible(page);
  assert.equal(await page.getByRole('progressbar').getAttribute('aria-valuenow'), '82');
  await expectText(page, '[data-testid="estimate"]', '$29.00');
  await expectText(page, '[data-testid="next-billing-date"]', 'December 26, 2026');
  await context.close();
});

test('usage past the allowance shows the overage alert and the estimate, at desktop and 320 px', async () => {
  for (const [name, viewport] of [['desktop', DESKTOP], ['narrow', NARROW]]) {
    const { page, context, errors } = await open(view({ status: 'active', billed: '12.20' }), { viewport });
    await expectOverage(page, '$2.20');
    await expectText(page, '[data-testid="usage-figures"]', '$12.20 of $10.00 included (122%)');
    assert.equal(await page.getByRole('progressbar').getAttribute('aria-valuenow'), '100');
    await expectText(page, '[data-testid="estimate"]', '$31.20');
    await expectText(page, '[data-testid="estimate-parts"]', '$29.00 plan + $2.20 usage');
    await expectNoHorizontalScroll(page);
    await expectReachableByKeyboard(page, 'Manage subscription');
    await page.screenshot({ path: `${SHOTS}usage-over-${name}.png`, fullPage: true });
    await expectAccessible(page);
    assert.deepEqual(errors, []);
    await context.close();
  }
});

test('past due shows the payment banner and the grace date', async () => {
  const { page, context } = await open(view({ status: 'past_due', billed: '3.00' }));
  await expectBadge(page, 'Past due');
  const banner = page.locator('[data-testid="payment-banner"]');
  assert.equal(await banner.getAttribute('role'), 'alert');
  assert.match(await banner.innerText(), /Payment problem\. Your last payment failed\. Update your card before December 3, 2026/);
  await page.screenshot({ path: `${SHOTS}past-due.png`, fullPage: true });
  await expectAccessible(page);
  await context.close();
});

test('each status shows its badge', async () => {
  const cases = [
    [view({ status: 'trialing' }), 'Trialing'],
    [view({ status: 'incomplete' }), 'Incomplete'],
    [view({ status: 'canceled' }), 'Canceled'],
    [view({ status: 'active', cancel_at_period_end: true }), 'Active until December 26, 2026'],
    [view({ status: 'none' }), 'No subscription'],
  ];
  for (const [subscription, label] of cases) {
    const { page, context } = await open(subscription, { path: '/#/billing' });
    await expectBadge(page, label);
    await context.close();
  }
});

test('the portal button goes to the portal session, and the change is picked up on return', async () => {
  api.state.portalUrl = `${api.url}/portal-stand-in`;
  const { page, context } = await open(view({ status: 'active', billed: '1.00' }));
  await expectBadge(page, 'Active');
  await Promise.all([page.waitForURL(`${api.url}/portal-stand-in`), page.getByRole('button', { name: 'Manage subscription' }).click()]);
  // the customer cancels in the portal; the webhook lands a moment after the return
  await page.goto(`${api.url}/`);
  await expectText(page, '[data-testid="notice"]', 'Checking for changes from Manage subscription…');
  api.state.subscription = view({ status: 'active', billed: '1.00', cancel_at_period_end: true });
  await expectBadge(page, 'Active until December 26, 2026');
  await expectText(page, '[data-testid="notice"]', 'Your changes in Manage subscription are saved.');
  await expectText(page, 'h2:has-text("Final invoice")', 'Final invoice');
  await context.close();
});

test('an API failure shows the error state, and Try again recovers', async () => {
  api.state.subscription = view({ status: 'active' });
  const context = await browser.newContext({ viewport: DESKTOP });
  await context.addInitScript(() => sessionStorage.setItem('leadmagnet.billing.session', JSON.stringify({ token: 'good-token', email: 'a@example.com', name: 'A', customer_id: 'c1' })));
  const page = await context.newPage();
  api.state.next = { status: 503, body: { error: 'billing is unavailable; retry later' } };
  await page.goto(`${api.url}/`);
  await expectText(page, '[data-testid="billing-error"] p', 'Billing is temporarily unavailable. Please try again in a moment.');
  await page.getByRole('button', { name: 'Try again' }).click();
  await expectBadge(page, 'Active');
  await context.close();
});

test('a 401 ends the session: the page asks to sign in again', async () => {
  const { page, context } = await open(view({ status: 'active' }), { token: 'expired-token' });
  // without the local stack's /dev routes, the stand-alone page has no sign-in form of its own
  await expectText(page, 'h1', 'Sign in required');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('leadmagnet.billing.session')), null);
  await context.close();
});

test('the checks fail when the badge or the overage alert is wrong', async () => {
  const { page, context } = await open(view({ status: 'active', billed: '12.20' }));
  await expectOverage(page, '$2.20');
  // wrong expectations against the right page
  await assert.rejects(expectOverage(page, '$2.21', { timeoutMs: 300 }), /overage alert: expected \$2\.21, the page shows \$2\.20/);
  await assert.rejects(expectBadge(page, 'Past due', { timeoutMs: 300 }), /status badge: expected "Past due", the page shows "Active"/);
  // the right expectations against wrong pages: an API answering another overage, another status
  api.state.subscription = view({ status: 'past_due', billed: '12.21' });
  await page.getByRole('button', { name: 'Refresh' }).click();
  await expectText(page, '[data-testid="usage-figures"]', '$12.21 of $10.00 included (122%)');
  await assert.rejects(expectOverage(page, '$2.20', { timeoutMs: 300 }), /expected \$2\.20, the page shows \$2\.21/);
  await assert.rejects(expectBadge(page, 'Active', { timeoutMs: 300 }), /the page shows "Past due"/);
  // and a page that lost its alert
  api.state.subscription = view({ status: 'active', billed: '9.00' });
  await page.getByRole('button', { name: 'Refresh' }).click();
  await expectText(page, '[data-testid="usage-figures"]', '$9.00 of $10.00 included (90%)');
  await assert.rejects(expectOverage(page, '$2.20', { timeoutMs: 300 }), /expected one showing \$2\.20, the page shows none/);
  // the accessibility check fails on a button without a name
  await page.evaluate(() => document.querySelector('main')?.append(document.createElement('button')));
  await assert.rejects(expectAccessible(page), /"id": "button-name"/);
  await context.close();
});
