import assert from 'node:assert/strict';
import { test } from 'node:test';

import { describeStatus, formatDate, summarizeUsage } from '../../app/view-model.js';
import { view } from '../support/views.mjs';

test('each status gets its badge, tone and next step', () => {
  const cases = [
    ['none', 'No subscription', 'neutral', 'setup'],
    ['active', 'Active', 'ok', 'portal'],
    ['trialing', 'Trialing', 'ok', 'portal'],
    ['past_due', 'Past due', 'danger', 'portal'],
    ['unpaid', 'Unpaid', 'danger', 'portal'],
    ['incomplete', 'Incomplete', 'danger', 'portal'],
    ['incomplete_expired', 'Expired', 'neutral', 'setup'],
    ['canceled', 'Canceled', 'neutral', 'setup'],
    ['paused', 'Paused', 'warning', 'portal'],
  ];
  for (const [status, label, tone, action] of cases) {
    const info = describeStatus(view({ status }));
    assert.equal(info.label, label, status);
    assert.equal(info.tone, tone, status);
    assert.equal(info.action, action, status);
    assert.ok(info.meaning.length > 10, status);
  }
});

test('a subscription canceled at the period end says until when it stays active', () => {
  const info = describeStatus(view({ status: 'active', cancel_at_period_end: true }));
  assert.equal(info.label, 'Active until December 26, 2026');
  assert.equal(info.tone, 'warning');
  assert.match(info.meaning, /You canceled your subscription\. It stays active until December 26, 2026/);
});

test('past due explains the grace while the features stay on', () => {
  const info = describeStatus(view({ status: 'past_due', can_use_paid_features: true, payment_needs_attention: true }));
  assert.match(info.meaning, /stay on until December 3, 2026/);
  const after = describeStatus(view({ status: 'past_due', can_use_paid_features: false, payment_needs_attention: true }));
  assert.match(after.meaning, /paused/);
});

test('dates are shown as UTC calendar dates', () => {
  assert.equal(formatDate('2026-12-26T00:00:00Z'), 'December 26, 2026');
  // 23:30 UTC is still the 26th, whatever the machine's time zone
  assert.equal(formatDate('2026-12-26T23:30:00Z'), 'December 26, 2026');
  assert.equal(formatDate(null), null);
  assert.equal(formatDate('not a date'), null);
});

test('usage below 80 % is ok, from 80 % a warning, past the allowance over', () => {
  const at = (billed) => summarizeUsage(view({ billed }).usage, view({}).plan);
  const low = at('7.99');
  assert.deepEqual([low.level, low.percent, low.billed, low.remaining], ['ok', 79, '$7.99', '$2.01']);
  const warn = at('8.20');
  assert.deepEqual([warn.level, warn.percent, warn.barPercent, warn.billed], ['warning', 82, 82, '$8.20']);
  const full = at('10.00');
  assert.deepEqual([full.level, full.percent, full.overage], ['warning', 100, '$0.00']);
  // a fraction of a cent over is not an overage anyone is charged yet
  assert.equal(at('10.004').level, 'warning');
  const over = at('12.20');
  assert.deepEqual(
    [over.level, over.percent, over.barPercent, over.overage, over.estimate, over.usageCharge],
    ['over', 122, 100, '$2.20', '$31.20', '$2.20'],
  );
});

test('a final invoice (cancel at period end) is the usage alone, from the API or our fallback', () => {
  const plan = view({}).plan;
  // the API already leaves the $29 plan out of a final invoice
  const fromApi = summarizeUsage({ ...view({ billed: '12.20' }).usage, estimated_next_invoice_usd: '2.20' }, plan, { final: true });
  assert.deepEqual([fromApi.estimate, fromApi.usageCharge], ['$2.20', '$2.20']);
  // without the API's figure, the fallback does the same
  const fallback = summarizeUsage({ ...view({ billed: '12.20' }).usage, estimated_next_invoice_usd: '' }, plan, { final: true });
  assert.deepEqual([fallback.estimate, fallback.usageCharge], ['$2.20', '$2.20']);
});
