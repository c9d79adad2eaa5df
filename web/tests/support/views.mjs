// Subscription views shaped exactly as `GET /admin/billing/subscription` answers
// (crates/billing/src/service/subscription_view.rs), for unit tests and the page-variant tests.

import { estimateNextInvoice, percentOf, saturatingSub } from '../../app/money.js';

const NONE_STATUSES = new Set(['none']);
const BILLABLE = new Set(['active', 'trialing', 'past_due', 'unpaid']);

/**
 * A view for `status` with `billed` dollars of usage this period (the period is
 * 2026-11-26 to 2026-12-26, UTC).
 * @param {{status?: string, billed?: string, cancel_at_period_end?: boolean,
 *   can_use_paid_features?: boolean, payment_needs_attention?: boolean}} options
 */
export function view({
  status = 'active',
  billed = '0.00',
  cancel_at_period_end = false,
  can_use_paid_features,
  payment_needs_attention,
} = {}) {
  const plan = {
    name: 'Lead Magnet AI Pro',
    base_price_usd: '29.00',
    currency: 'usd',
    interval: 'month',
    included_usage_usd: '10.00',
    usage_markup: '2',
  };
  if (NONE_STATUSES.has(status)) {
    return {
      has_subscription: false,
      status: 'none',
      can_use_paid_features: false,
      payment_needs_attention: false,
      past_due_grace_ends_at: null,
      plan,
      current_period_start: null,
      current_period_end: null,
      next_billing_date: null,
      cancel_at_period_end: false,
      usage: null,
    };
  }
  const overage = saturatingSub(billed, '10.00');
  return {
    has_subscription: true,
    status,
    can_use_paid_features: can_use_paid_features ?? ['active', 'trialing', 'past_due'].includes(status),
    payment_needs_attention: payment_needs_attention ?? ['past_due', 'unpaid', 'incomplete'].includes(status),
    past_due_grace_ends_at: status === 'past_due' ? '2026-12-03T00:00:00Z' : null,
    plan,
    current_period_start: '2026-11-26T00:00:00Z',
    current_period_end: '2026-12-26T00:00:00Z',
    next_billing_date: BILLABLE.has(status) ? '2026-12-26T00:00:00Z' : null,
    cancel_at_period_end,
    usage: {
      billed_usd: billed,
      allowance_usd: '10.00',
      remaining_allowance_usd: saturatingSub('10.00', billed),
      overage_usd: overage,
      percent_of_allowance_used: percentOf(billed, '10.00'),
      estimated_next_invoice_usd: estimateNextInvoice('29.00', overage),
    },
  };
}

