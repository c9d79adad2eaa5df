// @ts-check
/**
 * What the pages say about a subscription view, as plain data (no DOM), so it is unit-tested in
 * node: the status badge with its meaning and what to do, and the usage figures with their level.
 *
 * @module view-model
 */

import { Decimal, estimateNextInvoice, formatUsd, percentOf, saturatingSub } from './money.js';

/** @typedef {import('./billing-client.js').SubscriptionView} SubscriptionView */
/** @typedef {import('./billing-client.js').UsageView} UsageView */

/**
 * The badge: its label, its colour family, what the status means and what to do.
 * `action` says which button goes with it: the portal, the setup page or none.
 * @typedef {object} StatusInfo
 * @property {string} label
 * @property {'ok' | 'warning' | 'danger' | 'neutral'} tone
 * @property {string} meaning
 * @property {string | null} todo
 * @property {'portal' | 'setup' | null} action
 */

/** Percent of the allowance at which the warning shows. */
export const WARNING_PERCENT = 80;

/**
 * A calendar date in UTC ("December 26, 2026"); billing periods are UTC.
 * @param {string | null | undefined} rfc3339
 * @returns {string | null}
 */
export function formatDate(rfc3339) {
  if (!rfc3339) return null;
  const date = new Date(rfc3339);
  if (Number.isNaN(date.getTime())) return null;
  return new Intl.DateTimeFormat('en-US', { dateStyle: 'long', timeZone: 'UTC' }).format(date);
}

/**
 * The status badge and its explanation.
 * @param {SubscriptionView} view
 * @returns {StatusInfo}
 */
export function describeStatus(view) {
  const periodEnd = formatDate(view.current_period_end);
  const grace = formatDate(view.past_due_grace_ends_at);
  if (!view.has_subscription || view.status === 'none') {
    return {
      label: 'No subscription',
      tone: 'neutral',
      meaning: 'You have no subscription yet, so the AI features are off.',
      todo: `Start a subscription: ${formatUsd(view.plan.base_price_usd)} a month with ${formatUsd(
        view.plan.included_usage_usd,
      )} of AI usage included.`,
      action: 'setup',
    };
  }
  const live = ['active', 'trialing', 'past_due'].includes(view.status);
  if (view.cancel_at_period_end && live && periodEnd) {
    return {
      label: `Active until ${periodEnd}`,
      tone: 'warning',
      meaning: `You canceled your subscription. It stays active until ${periodEnd}, then ends; usage until then is on the final invoice.`,
      todo: 'To keep your subscription, open Manage subscription before then.',
      action: 'portal',
    };
  }
  switch (view.status) {
    case 'active':
      return {
        label: 'Active',
        tone: 'ok',
        meaning: 'Your subscription is active and every AI feature is available.',
        todo: null,
        action: 'portal',
      };
    case 'trialing':
      return {
        label: 'Trialing',
        tone: 'ok',
        meaning: 'You are in your trial and every AI feature is available.',
        todo: 'Your card is charged when the trial ends; check it is up to date in Manage subscription.',
        action: 'portal',
      };
    case 'past_due':
      return {
        label: 'Past due',
        tone: 'danger',
        meaning: view.can_use_paid_features && grace
          ? `Your last payment failed. The AI features stay on until ${grace} while we retry.`
          : 'Your last payment failed and the AI features are paused.',
        todo: 'Update your card in Manage subscription; the open invoice is retried at once.',
        action: 'portal',
      };
    case 'unpaid':
      return {
        label: 'Unpaid',
        tone: 'danger',
        meaning: 'Payments failed after every retry, so the AI features are off.',
        todo: 'Update your card in Manage subscription to pay the open invoice.',
        action: 'portal',
      };
    case 'incomplete':
      return {
        label: 'Incomplete',
        tone: 'danger',
        meaning: 'The first payment did not go through, so the subscription has not started.',
        todo: 'Update your card in Manage subscription to finish subscribing.',
        action: 'portal',
      };
    case 'incomplete_expired':
      return {
        label: 'Expired',
        tone: 'neutral',
        meaning: 'The first payment never went through, so this subscription did not start.',
        todo: 'Start a new subscription to use the AI features.',
        action: 'setup',
      };
    case 'canceled':
      return {
        label: 'Canceled',
        tone: 'neutral',
        meaning: 'Your subscription has ended, so the AI features are off. Past invoices stay in Manage subscription.',
        todo: 'Start a new subscription to use them again.',
        action: 'setup',
      };
    case 'paused':
      return {
        label: 'Paused',
        tone: 'warning',
        meaning: 'Your subscription is paused, so the AI features are off.',
        todo: 'Resume it in Manage subscription.',
        action: 'portal',
      };
    default:
      return {
        label: view.status.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase()),
        tone: 'neutral',
        meaning: 'Your subscription is in a state this page does not know.',
        todo: 'Open Manage subscription for details.',
        action: 'portal',
      };
  }
}

/**
 * The usage panel's figures, formatted, and its level: `ok` below 80 %, `warning` from 80 % up to
 * the allowance, `over` once the allowance is passed by at least a cent.
 * @typedef {object} UsageSummary
 * @property {string} billed "$8.20"
 * @property {string} allowance "$10.00"
 * @property {string} remaining "$1.80"
 * @property {string} overage "$0.00"
 * @property {number} percent whole percent of the allowance, rounded down (may exceed 100)
 * @property {number} barPercent the bar's fill, 0 to 100
 * @property {'ok' | 'warning' | 'over'} level
 * @property {string} estimate the next invoice as it stands: "$31.20" for a renewal ($29.00 plan +
 *   $2.20 usage), "$2.20" for the final invoice of a subscription that ends at the period end
 * @property {string} usageCharge the usage part of that estimate, "$2.20"
 */

/**
 * @param {UsageView} usage
 * @param {import('./billing-client.js').PlanView} plan
 * @param {{final?: boolean}} [options] `final`: the subscription ends at the period end, so the
 *   next invoice is the last one and bills the usage only (no new month of the plan)
 * @returns {UsageSummary}
 */
export function summarizeUsage(usage, plan, { final = false } = {}) {
  const percent = percentOf(usage.billed_usd, usage.allowance_usd);
  // Over once at least a whole cent is charged beyond the allowance (what the alert can show).
  const over = !Decimal.parse(usage.overage_usd).truncate(2).isZero();
  const level = over ? 'over' : percent >= WARNING_PERCENT ? 'warning' : 'ok';
  // The API's estimate knows the allowance mode and whether the plan renews (a final invoice
  // carries the usage only); ours (base, if it renews, + overage in whole cents) is the same figure
  // and only stands in when the API's is missing.
  const fallback = estimateNextInvoice(final ? '0' : plan.base_price_usd, usage.overage_usd);
  const estimate = usage.estimated_next_invoice_usd || fallback;
  const usageCharge = final ? estimate : saturatingSub(estimate, plan.base_price_usd);
  return {
    billed: formatUsd(usage.billed_usd),
    allowance: formatUsd(usage.allowance_usd),
    remaining: formatUsd(usage.remaining_allowance_usd),
    overage: formatUsd(usage.overage_usd),
    percent,
    barPercent: Math.min(100, percent),
    level,
    estimate: formatUsd(estimate),
    usageCharge: formatUsd(usageCharge),
  };
}

