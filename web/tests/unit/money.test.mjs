import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  Decimal,
  MoneyFormatError,
  addAmounts,
  compareAmounts,
  estimateNextInvoice,
  formatUsd,
  multiplyAmounts,
  percentOf,
  saturatingSub,
} from '../../app/money.js';

test('decimal strings parse exactly and print back with their scale', () => {
  assert.equal(Decimal.parse('16.00').toString(), '16.00');
  assert.equal(Decimal.parse('0.000246').toString(), '0.000246');
  assert.equal(Decimal.parse('-3.5').toString(), '-3.5');
  assert.equal(Decimal.parse('29').toString(), '29');
  // 0.1 + 0.2 is exactly 0.3 here (it is 0.30000000000000004 in floats)
  assert.equal(addAmounts('0.1', '0.2'), '0.3');
  // far beyond a double's 15-16 significant digits
  assert.equal(addAmounts('12345678901234567890.000001', '0.000001'), '12345678901234567890.000002');
});

test('text that is not a plain decimal is refused', () => {
  for (const bad of ['', '1e3', '$1.00', '1,000.00', '.5', '5.', 'NaN', 'abc', '1.2.3']) {
    assert.throws(() => Decimal.parse(bad), MoneyFormatError, bad);
  }
  assert.throws(() => Decimal.parse(/** @type {any} */ (16)), MoneyFormatError);
});

test('amounts are shown in dollars truncated to whole cents with separators', () => {
  assert.equal(formatUsd('16.00'), '$16.00');
  assert.equal(formatUsd('29'), '$29.00');
  assert.equal(formatUsd('8.2'), '$8.20');
  assert.equal(formatUsd('0.000246'), '$0.00');
  assert.equal(formatUsd('4.500246'), '$4.50');
  // never rounded up: $9.999 is not shown as $10.00
  assert.equal(formatUsd('9.999'), '$9.99');
  assert.equal(formatUsd('1234567.891'), '$1,234,567.89');
  assert.equal(formatUsd('-3'), '-$3.00');
  assert.equal(formatUsd('-0.001'), '$0.00');
});

test('sums, differences and comparisons are exact', () => {
  assert.equal(addAmounts('8.20', '4.00'), '12.20');
  assert.equal(saturatingSub('12.20', '10.00'), '2.20');
  assert.equal(saturatingSub('8.20', '10.00'), '0.00');
  assert.equal(compareAmounts('10.00', '10'), 0);
  assert.equal(compareAmounts('10.000001', '10'), 1);
  assert.equal(compareAmounts('9.99', '10'), -1);
  assert.equal(multiplyAmounts('4.10', '2'), '8.20');
  assert.equal(multiplyAmounts('0.000123', '2'), '0.000246');
});

test('the percent of the allowance is rounded down and may exceed 100', () => {
  assert.equal(percentOf('8.20', '10.00'), 82);
  assert.equal(percentOf('7.999999', '10.00'), 79);
  assert.equal(percentOf('8', '10'), 80);
  assert.equal(percentOf('16.00', '10.00'), 160);
  assert.equal(percentOf('0', '10.00'), 0);
  assert.equal(percentOf('4.500246', '10.00'), 45);
  // a zero allowance: 0 % without usage, 100 % with any (as the API answers)
  assert.equal(percentOf('0', '0'), 0);
  assert.equal(percentOf('0.01', '0'), 100);
});

test('the next invoice is the base price plus the overage in whole cents', () => {
  // the README's figure: $8.00 of OpenAI cost bills $16.00, $6.00 over, $35.00 invoiced
  assert.equal(estimateNextInvoice('29.00', '6.00'), '35.00');
  assert.equal(estimateNextInvoice('29.00', '2.20'), '31.20');
  assert.equal(estimateNextInvoice('29.00', '0.00'), '29.00');
  // fractions of a cent are not charged yet (meter units are whole cents)
  assert.equal(estimateNextInvoice('29.00', '2.205'), '31.20');
  assert.equal(estimateNextInvoice('29', '0.009'), '29.00');
});
