import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { BillingApiError, createBillingClient } from '../../app/billing-client.js';
import { startFakeApi } from '../support/fake-api.mjs';
import { view } from '../support/views.mjs';

/** @type {Awaited<ReturnType<typeof startFakeApi>>} */
let api;
before(async () => {
  api = await startFakeApi({ subscription: view({ status: 'active', billed: '12.20' }) });
});
after(async () => api.close());

const client = (token = 'good-token', extra = {}) =>
  createBillingClient({ apiBase: `${api.url}/`, getToken: async () => token, ...extra });

/**
 * @param {Promise<unknown>} promise
 * @param {{kind: string, status: number, message?: string | RegExp}} expected
 */
async function rejectsWith(promise, { kind, status, message }) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof BillingApiError, `not a BillingApiError: ${error}`);
    assert.equal(error.kind, kind);
    assert.equal(error.status, status);
    if (typeof message === 'string') assert.equal(error.message, message);
    else if (message) assert.match(error.message, message);
    return true;
  });
}

test('getSubscription sends the bearer token and returns the documented view', async () => {
  const got = await client().getSubscription();
  assert.equal(got.status, 'active');
  assert.equal(got.usage?.overage_usd, '2.20');
  assert.equal(got.usage?.estimated_next_invoice_usd, '31.20');
  const last = api.state.calls.at(-1);
  assert.deepEqual(last, { method: 'GET', path: '/admin/billing/subscription', authorization: 'Bearer good-token' });
});

test('the two sessions are POSTed and answer their URLs', async () => {
  assert.deepEqual(await client().createCheckoutSession(), { url: api.state.checkoutUrl, id: 'cs_test_1' });
  assert.equal(api.state.calls.at(-1)?.method, 'POST');
  assert.equal(api.state.calls.at(-1)?.path, '/admin/billing/checkout-session');
  assert.deepEqual(await client().createPortalSession(), { url: api.state.portalUrl });
  assert.equal(api.state.calls.at(-1)?.path, '/admin/billing/portal-session');
});

test('a 401 is an unauthorized error, and no token means no request', async () => {
  await rejectsWith(client('stale-token').getSubscription(), { kind: 'unauthorized', status: 401 });
  const before = api.state.calls.length;
  await rejectsWith(client(null).getSubscription(), { kind: 'unauthorized', status: 0 });
  assert.equal(api.state.calls.length, before, 'a signed-out client must not call the API');
});

test('a 409 keeps the API message (already subscribed)', async () => {
  const text = 'customer c1 already has subscription sub_1 (active); manage it in the billing portal';
  api.state.next = { status: 409, body: { error: text } };
  await rejectsWith(client().createCheckoutSession(), { kind: 'conflict', status: 409, message: text });
});

test('a 404 from the portal is not_found; 502 and 503 are unavailable with our own message', async () => {
  api.state.next = { status: 404, body: { error: 'customer c1 has no Stripe customer yet; start a subscription first' } };
  await rejectsWith(client().createPortalSession(), { kind: 'not_found', status: 404, message: /no Stripe customer yet/ });
  for (const status of [502, 503]) {
    api.state.next = { status, body: { error: 'internal detail that users should not see' } };
    await rejectsWith(client().getSubscription(), { kind: 'unavailable', status, message: /temporarily unavailable/ });
  }
});

test('answers that are not the documented JSON are bad_response', async () => {
  api.state.next = { status: 200, body: '<html>proxy error</html>' };
  await rejectsWith(client().getSubscription(), { kind: 'bad_response', status: 200 });
  api.state.next = { status: 200, body: { ...view({ billed: '1.00' }), usage: { ...view({ billed: '1.00' }).usage, billed_usd: 1 } } };
  await rejectsWith(client().getSubscription(), { kind: 'bad_response', status: 200 });
  // a session URL that is not http(s) is never followed
  api.state.next = { status: 200, body: { url: 'javascript:alert(1)', id: 'cs_1' } };
  await rejectsWith(client().createCheckoutSession(), { kind: 'bad_response', status: 200 });
});

test('an unreachable API and a time-out are unavailable with status 0', async () => {
  const closed = await startFakeApi();
  const url = closed.url;
  await closed.close();
  await rejectsWith(
    createBillingClient({ apiBase: url, getToken: () => 'good-token' }).getSubscription(),
    { kind: 'unavailable', status: 0, message: /Could not reach billing/ },
  );
  // a fetch that answers only when aborted, as a hung connection does
  const hung = (_url, init) => new Promise((_, reject) => init.signal.addEventListener('abort', () => reject(new Error('aborted'))));
  await rejectsWith(
    client('good-token', { fetch: hung, timeoutMs: 20 }).getSubscription(),
    { kind: 'unavailable', status: 0, message: /took too long/ },
  );
});
