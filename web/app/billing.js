// @ts-check
/**
 * The two billing screens, mountable in any page: **Set up billing** (the plan, what is billed
 * when, and Start subscription) and **Billing & usage** (status badge, usage against the allowance,
 * warning and overage alert, next invoice, payment-problem banner, Manage subscription).
 *
 * ```js
 * import { mountBilling } from './billing.js';
 * const billing = mountBilling(document.querySelector('#billing'), {
 *   apiBase: 'https://api.example.com',
 *   getToken: async () => myAuth.idToken(),   // the host app's signed-in user
 *   onUnauthorized: () => myRouter.push('/login'),
 * });
 * ```
 *
 * @module billing
 */

import { BillingApiError, createBillingClient } from './billing-client.js';
import { h } from './dom.js';
import { formatUsd, multiplyAmounts } from './money.js';
import { describeStatus, formatDate, summarizeUsage } from './view-model.js';

/** @typedef {import('./billing-client.js').SubscriptionView} SubscriptionView */
/** @typedef {import('./billing-client.js').BillingClient} BillingClient */

/**
 * @typedef {object} MountOptions
 * @property {string} [apiBase] the billing API's base URL (default: this page's origin)
 * @property {() => (string | null | undefined | Promise<string | null | undefined>)} [getToken]
 *   the signed-in user's bearer token; required unless `client` is given
 * @property {BillingClient} [client] a ready client (tests); replaces `apiBase`/`getToken`
 * @property {(error: BillingApiError) => void} [onUnauthorized] called on a 401 (send the user to
 *   sign-in); without it the page shows a "sign in again" message
 * @property {'auto' | 'setup' | 'usage'} [page] which screen; `auto` (default) shows Set up billing
 *   to a customer who never subscribed (and after a canceled checkout), Billing & usage otherwise
 * @property {'success' | 'cancel' | null} [checkoutResult] the result of returning from Checkout;
 *   default: the `checkout` query parameter of the current URL
 * @property {string} [setupHref] link to the Set up billing screen (default `#/setup-billing`)
 * @property {string} [usageHref] link to the Billing & usage screen (default `#/billing`)
 * @property {(url: string) => void} [navigate] goes to Checkout or the portal (default
 *   `location.assign`)
 * @property {Storage | null} [storage] remembers a visit to the portal across the redirect
 *   (default `sessionStorage`)
 * @property {boolean} [focusHeading] move focus to the screen's heading once shown (after a
 *   navigation inside a single-page app)
 * @property {number} [pollIntervalMs] time between re-reads while waiting for a change (1000)
 */

/**
 * @typedef {object} BillingController
 * @property {() => Promise<void>} refresh re-reads the subscription and re-renders
 * @property {(changed: (view: SubscriptionView) => boolean, timeoutMs?: number) => Promise<boolean>}
 *   refreshUntil re-reads until `changed` holds (true) or the time is up (false)
 * @property {() => SubscriptionView | null} current the last view read
 * @property {() => void} destroy stops polling and empties the element
 */

const PORTAL_VISIT_KEY = 'leadmagnet.billing.portal-visit';
const LIVE_STATUSES = ['active', 'trialing', 'past_due', 'unpaid', 'incomplete', 'paused'];
/** Statuses after which nothing more is billed: their last period's usage is not shown. */
const ENDED_STATUSES = ['canceled', 'incomplete_expired'];

/**
 * What changes when the portal is used: status, cancellation and payment.
 * @param {SubscriptionView} view
 */
function fingerprint(view) {
  return [view.status, view.cancel_at_period_end, view.payment_needs_attention].join('|');
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Mounts the billing screens into `root` and loads the subscription.
 * @param {HTMLElement} root
 * @param {MountOptions} options
 * @returns {BillingController}
 */
export function mountBilling(root, options) {
  const client =
    options.client ??
    createBillingClient({
      apiBase: options.apiBase ?? window.location.origin,
      getToken: options.getToken ?? (() => null),
    });
  const navigate = options.navigate ?? ((url) => window.location.assign(url));
  const storage = options.storage === undefined ? safeSessionStorage() : options.storage;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const checkoutResult =
    options.checkoutResult !== undefined
      ? options.checkoutResult
      : parseCheckoutResult(window.location.search);
  const setupHref = options.setupHref ?? '#/setup-billing';
  const usageHref = options.usageHref ?? '#/billing';

  /** @type {SubscriptionView | null} */
  let view = null;
  /** @type {{tone: 'ok' | 'info' | 'warning', text: string} | null} */
  let notice = null;
  /** @type {string | null} an action's error shown beside its button */
  let actionError = null;
  let busy = /** @type {null | 'checkout' | 'portal'} */ (null);
  let destroyed = false;
  let focusPending = options.focusHeading ?? false;
  let generation = 0;

  root.classList.add('billing-root');

  function render() {
    if (destroyed) return;
    // Re-rendering replaces the elements: keep keyboard focus on the control that had it.
    const active = document.activeElement;
    const focusKey = active instanceof HTMLElement && root.contains(active) ? active.dataset.key ?? null : null;
    const screen = view === null ? null : chooseScreen(view);
    root.replaceChildren(
      view === null ? loadingView() : screen === 'setup' ? setupView(view) : usageView(view),
    );
    if (focusPending && view !== null) {
      focusPending = false;
      root.querySelector('h1')?.focus();
    } else if (focusKey) {
      /** @type {HTMLElement | null} */ (root.querySelector(`[data-key="${focusKey}"]`))?.focus();
    }
  }

  /** @param {SubscriptionView} current */
  function chooseScreen(current) {
    if (options.page === 'setup' || options.page === 'usage') return options.page;
    if (checkoutResult === 'cancel') return 'setup';
    if (checkoutResult === 'success') return 'usage';
    // A subscription that ended still shows its badge (with the way back to Set up billing).
    return current.has_subscription ? 'usage' : 'setup';
  }

  function loadingView() {
    return h(
      'section',
      { class: 'billing-panel', 'aria-busy': 'true', 'data-testid': 'billing-loading' },
      h('p', { role: 'status', class: 'loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Loading your billing details…'),
    );
  }

  /**
   * @param {unknown} error
   * @returns {boolean} whether the error was a 401 handed to the host
   */
  function handleUnauthorized(error) {
    if (error instanceof BillingApiError && error.kind === 'unauthorized') {
      if (options.onUnauthorized) {
        destroyed = true;
        options.onUnauthorized(error);
      } else {
        root.replaceChildren(
          h('section', { class: 'billing-panel' },
            h('div', { class: 'alert alert--danger', role: 'alert' },
              h('p', {}, h('strong', {}, 'You are signed out. '), error.message))),
        );
      }
      return true;
    }
    return false;
  }

  /** @param {unknown} error */
  function errorView(error) {
    const message = error instanceof Error ? error.message : 'Something went wrong.';
    return h(
      'section',
      { class: 'billing-panel', 'aria-labelledby': 'billing-error-heading' },
      h('div', { class: 'alert alert--danger', role: 'alert', 'data-testid': 'billing-error' },
        h('h1', { id: 'billing-error-heading', tabindex: '-1' }, 'Billing could not be loaded'),
        h('p', {}, message),
        h('button', { type: 'button', class: 'button', onclick: () => void load() }, 'Try again')),
    );
  }

  /** @returns {Promise<SubscriptionView | null>} */
  async function read() {
    const mine = ++generation;
    try {
      const next = await client.getSubscription();
      if (destroyed || mine !== generation) return null;
      view = next;
      return next;
    } catch (error) {
      if (destroyed || mine !== generation) return null;
      if (handleUnauthorized(error)) return null;
      throw error;
    }
  }

  async function load() {
    view = null;
    render();
    try {
      const first = await read();
      if (first === null) return;
      render();
      await afterFirstLoad(first);
    } catch (error) {
      if (destroyed) return;
      root.replaceChildren(errorView(error));
    }
  }

  /**
   * Follows up on a return from Checkout or the portal by re-reading until the change shows.
   * @param {SubscriptionView} first
   */
  async function afterFirstLoad(first) {
    if (checkoutResult === 'success') {
      if (first.has_subscription && LIVE_STATUSES.includes(first.status)) {
        notice = { tone: 'ok', text: 'Payment received. Your subscription is active. Welcome to Lead Magnet AI Pro!' };
        render();
        return;
      }
      notice = { tone: 'info', text: 'Payment received. Setting up your subscription…' };
      render();
      const done = await refreshUntil((v) => v.has_subscription && LIVE_STATUSES.includes(v.status), 30000);
      notice = done
        ? { tone: 'ok', text: 'Payment received. Your subscription is active. Welcome to Lead Magnet AI Pro!' }
        : { tone: 'warning', text: 'Your payment went through, but the subscription is not showing yet. Refresh this page in a minute.' };
      render();
      return;
    }
    if (checkoutResult === 'cancel') {
      notice = { tone: 'info', text: 'Checkout canceled. You have not been charged; start again whenever you are ready.' };
      render();
      return;
    }
    const visit = takePortalVisit();
    if (visit !== null) {
      if (fingerprint(first) !== visit) {
        notice = { tone: 'ok', text: 'Your changes in Manage subscription are saved.' };
        render();
        return;
      }
      notice = { tone: 'info', text: 'Checking for changes from Manage subscription…' };
      render();
      const changed = await refreshUntil((v) => fingerprint(v) !== visit, 10000);
      notice = changed ? { tone: 'ok', text: 'Your changes in Manage subscription are saved.' } : null;
      render();
    }
  }

  /** @returns {string | null} the fingerprint saved before going to the portal */
  function takePortalVisit() {
    if (!storage) return null;
    const saved = storage.getItem(PORTAL_VISIT_KEY);
    storage.removeItem(PORTAL_VISIT_KEY);
    if (!saved) return null;
    try {
      const { at, print } = JSON.parse(saved);
      return typeof print === 'string' && Date.now() - Number(at) < 30 * 60 * 1000 ? print : null;
    } catch {
      return null;
    }
  }

  /**
   * @param {(view: SubscriptionView) => boolean} changed
   * @param {number} [timeoutMs]
   */
  async function refreshUntil(changed, timeoutMs = 10000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const next = await read();
        if (next === null) return false;
        render();
        if (changed(next)) return true;
      } catch {
        // a failed re-read is retried until the deadline; the last good view stays on screen
      }
      if (Date.now() + pollIntervalMs > deadline || destroyed) return false;
      await sleep(pollIntervalMs);
    }
  }

  async function startCheckout() {
    if (busy) return;
    busy = 'checkout';
    actionError = null;
    render();
    try {
      const session = await client.createCheckoutSession();
      navigate(session.url);
      // keep the button busy: the browser is leaving for Checkout
    } catch (error) {
      busy = null;
      if (handleUnauthorized(error)) return;
      actionError =
        error instanceof BillingApiError && error.kind === 'conflict'
          ? `${error.message} Open Billing & usage to manage it.`
          : error instanceof Error
            ? error.message
            : 'Could not start the checkout.';
      render();
      root.querySelector('[data-testid="action-error"]')?.scrollIntoView({ block: 'nearest' });
    }
  }

  async function openPortal() {
    if (busy) return;
    busy = 'portal';
    actionError = null;
    render();
    try {
      const session = await client.createPortalSession();
      if (storage && view) {
        storage.setItem(PORTAL_VISIT_KEY, JSON.stringify({ at: Date.now(), print: fingerprint(view) }));
      }
      navigate(session.url);
    } catch (error) {
      busy = null;
      if (handleUnauthorized(error)) return;
      actionError = error instanceof Error ? error.message : 'Could not open Manage subscription.';
      render();
    }
  }

  function noticeView() {
    if (!notice) return null;
    return h(
      'div',
      {
        class: `alert alert--${notice.tone === 'ok' ? 'ok' : notice.tone === 'warning' ? 'warning' : 'info'}`,
        role: 'status',
        'data-testid': 'notice',
      },
      h('p', {}, notice.text),
    );
  }

  function actionErrorView() {
    if (!actionError) return null;
    return h('p', { class: 'alert alert--danger', role: 'alert', 'data-testid': 'action-error' }, actionError);
  }

  /** @param {SubscriptionView} current */
  function setupView(current) {
    const plan = current.plan;
    const base = formatUsd(plan.base_price_usd);
    const included = formatUsd(plan.included_usage_usd);
    const markup = plan.usage_markup;
    const live = current.has_subscription && LIVE_STATUSES.includes(current.status);
    const checkoutBusy = busy === 'checkout';
    return h(
      'section',
      { class: 'billing-panel', 'aria-labelledby': 'setup-heading', 'data-testid': 'setup-billing' },
      h('h1', { id: 'setup-heading', tabindex: '-1' }, 'Set up billing'),
      noticeView(),
      h('div', { class: 'card plan-card' },
        h('h2', {}, plan.name),
        h('p', { class: 'price' }, h('strong', { 'data-testid': 'plan-price' }, base), ` per ${plan.interval}`),
        h('ul', { class: 'plan-features' },
          h('li', {}, h('strong', {}, included), ' of AI usage included every month'),
          h('li', {},
            `Beyond that, AI usage is billed at ${markup}× what the AI provider charges: $1.00 of AI cost is billed `,
            formatUsd(multiplyAmounts('1.00', markup)), '.'),
          h('li', {}, 'Cancel any time in Manage subscription')),
        h('h3', {}, 'What is billed when'),
        h('ul', { class: 'billing-schedule' },
          h('li', {}, h('strong', {}, 'Today: '), `${base} for your first month, when you subscribe.`),
          h('li', {}, h('strong', {}, 'Every month after: '),
            `${base} at the start of each billing period, plus the usage above ${included} from the period that just ended.`),
          h('li', {}, h('strong', {}, 'If you cancel: '),
            'your plan stays on until the end of the period you paid for; usage above the allowance in that period is billed on a final invoice.')),
        live
          ? h('div', { class: 'already' },
              h('p', {}, 'You already have a subscription.'),
              h('a', { class: 'button', 'data-key': 'usage', href: usageHref }, 'Go to Billing & usage'))
          : h('div', { class: 'actions' },
              h('button', {
                type: 'button',
                class: 'button button--primary',
                'data-key': 'start',
                'aria-busy': checkoutBusy ? 'true' : 'false',
                disabled: checkoutBusy,
                onclick: () => void startCheckout(),
              }, checkoutBusy ? 'Opening checkout…' : 'Start subscription'),
              h('p', { class: 'muted' }, 'You enter your card on the secure Stripe Checkout page.')),
        actionErrorView()),
    );
  }

  /** @param {SubscriptionView} current */
  function usageView(current) {
    const status = describeStatus(current);
    const portalBusy = busy === 'portal';
    const manage = h('button', {
      type: 'button',
      class: 'button button--primary',
      'data-key': 'manage',
      'aria-busy': portalBusy ? 'true' : 'false',
      disabled: portalBusy,
      onclick: () => void openPortal(),
    }, portalBusy ? 'Opening…' : 'Manage subscription');
    const pastDue = current.payment_needs_attention
      ? h('div', { class: 'alert alert--danger banner', role: 'alert', 'data-testid': 'payment-banner' },
          h('p', {}, h('strong', {}, 'Payment problem. '),
            current.status === 'incomplete'
              ? 'Your first payment did not go through. '
              : 'Your last payment failed. ',
            current.past_due_grace_ends_at && current.can_use_paid_features
              ? `Update your card before ${formatDate(current.past_due_grace_ends_at)} to keep the AI features on.`
              : 'Update your card to turn the AI features back on.'),
          h('button', { type: 'button', class: 'button', 'data-key': 'update-card', onclick: () => void openPortal() }, 'Update payment method'))
      : null;
    return h(
      'section',
      { class: 'billing-panel', 'aria-labelledby': 'usage-heading-main', 'data-testid': 'billing-usage' },
      h('div', { class: 'panel-head' },
        h('h1', { id: 'usage-heading-main', tabindex: '-1' }, 'Billing & usage'),
        h('button', { type: 'button', class: 'button button--quiet', 'data-key': 'refresh', onclick: () => {
          notice = null;
          void refreshUntil(() => true, 0);
        } }, 'Refresh')),
      noticeView(),
      pastDue,
      h('div', { class: 'cards' },
        h('div', { class: 'card status-card', 'data-testid': 'status-card' },
          h('h2', {}, 'Subscription'),
          h('p', { class: 'plan-line' }, `${current.plan.name} · ${formatUsd(current.plan.base_price_usd)} per ${current.plan.interval}`),
          h('p', {},
            h('span', { class: `badge badge--${status.tone}`, 'data-testid': 'status-badge' }, status.label)),
          h('p', { 'data-testid': 'status-meaning' }, status.meaning),
          status.todo ? h('p', { class: 'todo', 'data-testid': 'status-todo' }, status.todo) : null,
          h('div', { class: 'actions' },
            status.action === 'setup'
              ? h('a', { class: 'button button--primary', 'data-key': 'setup', href: setupHref }, 'Set up billing')
              : null,
            current.has_subscription ? manage : null),
          actionErrorView()),
        current.usage && !ENDED_STATUSES.includes(current.status) ? usageCard(current) : null,
        current.usage && !ENDED_STATUSES.includes(current.status) ? invoiceCard(current) : null),
    );
  }

  /** @param {SubscriptionView} current */
  function usageCard(current) {
    const usage = /** @type {import('./billing-client.js').UsageView} */ (current.usage);
    const summary = summarizeUsage(usage, current.plan);
    const start = formatDate(current.current_period_start);
    const end = formatDate(current.current_period_end);
    const fill = h('div', { class: 'meter__fill' });
    fill.style.width = `${summary.barPercent}%`;
    return h('div', { class: `card usage-card usage-card--${summary.level}`, 'data-testid': 'usage-panel' },
      h('h2', { id: 'usage-heading' }, 'AI usage this period'),
      start && end ? h('p', { class: 'muted' }, `${start} to ${end}`) : null,
      h('p', { class: 'usage-figures', 'data-testid': 'usage-figures' },
        h('strong', {}, summary.billed), ` of ${summary.allowance} included (${summary.percent}%)`),
      h('div', {
        class: `meter meter--${summary.level}`,
        role: 'progressbar',
        'aria-labelledby': 'usage-heading',
        'aria-valuemin': 0,
        'aria-valuemax': 100,
        'aria-valuenow': summary.barPercent,
        'aria-valuetext': `${summary.billed} of ${summary.allowance} used, ${summary.percent}%`,
        'data-testid': 'usage-bar',
      }, fill),
      summary.level === 'over'
        ? h('div', { class: 'alert alert--danger', role: 'alert', 'data-testid': 'overage-alert' },
            h('p', {}, h('strong', {}, 'You are past your included usage. '),
              'Overage so far: ', h('strong', { 'data-testid': 'overage-amount' }, summary.overage),
              ' (AI usage billed at ', `${current.plan.usage_markup}× its cost, beyond ${summary.allowance}), added to your next invoice.`))
        : h('p', { class: 'muted' }, `${summary.remaining} of included usage left this period.`),
      summary.level === 'warning'
        ? h('div', { class: 'alert alert--warning', role: 'status', 'data-testid': 'usage-warning' },
            h('p', {}, h('strong', {}, `You have used ${summary.percent}% of your included usage. `),
              `Usage beyond ${summary.allowance} is billed at ${current.plan.usage_markup}× the AI cost.`))
        : null,
    );
  }

  /** @param {SubscriptionView} current */
  function invoiceCard(current) {
    const usage = /** @type {import('./billing-client.js').UsageView} */ (current.usage);
    const final = current.cancel_at_period_end;
    const summary = summarizeUsage(usage, current.plan, { final });
    const date = formatDate(current.next_billing_date);
    return h('div', { class: 'card invoice-card', 'data-testid': 'invoice-card' },
      h('h2', {}, final ? 'Final invoice' : 'Next invoice'),
      date
        ? h('dl', { class: 'facts' },
            h('div', {}, h('dt', {}, 'Date'), h('dd', { 'data-testid': 'next-billing-date' }, date)),
            h('div', {}, h('dt', {}, 'Estimate so far'), h('dd', { 'data-testid': 'estimate' }, summary.estimate)),
            h('div', {}, h('dt', {}, 'Made of'),
              h('dd', { 'data-testid': 'estimate-parts' },
                final
                  ? `${summary.usageCharge} usage (the plan does not renew)`
                  : `${formatUsd(current.plan.base_price_usd)} plan + ${summary.usageCharge} usage`)))
        : h('p', { class: 'muted', 'data-testid': 'next-billing-date' }, 'No invoice is scheduled.'),
    );
  }

  void load();

  return {
    refresh: async () => {
      try {
        if ((await read()) !== null) render();
      } catch (error) {
        root.replaceChildren(errorView(error));
      }
    },
    refreshUntil: (changed, timeoutMs) => {
      // an outside change (usage, time) makes the last notice stale
      notice = null;
      return refreshUntil(changed, timeoutMs);
    },
    current: () => view,
    destroy: () => {
      destroyed = true;
      root.replaceChildren();
    },
  };
}

/**
 * The `checkout` query parameter: `success`, `cancel` or nothing.
 * @param {string} search
 * @returns {'success' | 'cancel' | null}
 */
export function parseCheckoutResult(search) {
  const value = new URLSearchParams(search).get('checkout');
  return value === 'success' || value === 'cancel' ? value : null;
}

/** @returns {Storage | null} */
function safeSessionStorage() {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}
