// @ts-check
/**
 * The billing API client: the three endpoints of the old `billing.client.ts`
 * (`getSubscription`, `createCheckoutSession`, `createPortalSession`), with the bearer token
 * supplied by the host app and every failure as a {@link BillingApiError} carrying its HTTP status.
 *
 * @module billing-client
 */

/**
 * The plan's name and prices (amounts are decimal strings in USD).
 * @typedef {object} PlanView
 * @property {string} name "Lead Magnet AI Pro"
 * @property {string} base_price_usd "29.00"
 * @property {string} currency "usd"
 * @property {string} interval "month"
 * @property {string} included_usage_usd "10.00"
 * @property {string} usage_markup "2"
 */

/**
 * This period's usage in billed dollars (decimal strings; the percent is a whole number).
 * @typedef {object} UsageView
 * @property {string} billed_usd
 * @property {string} allowance_usd
 * @property {string} remaining_allowance_usd
 * @property {string} overage_usd
 * @property {number} percent_of_allowance_used rounded down, may exceed 100
 * @property {string} estimated_next_invoice_usd
 */

/**
 * The answer of `GET /admin/billing/subscription`.
 * @typedef {object} SubscriptionView
 * @property {boolean} has_subscription
 * @property {string} status Stripe's status (`active`, `trialing`, `past_due`, `unpaid`,
 *   `incomplete`, `incomplete_expired`, `canceled`, `paused`) or `none`
 * @property {boolean} can_use_paid_features
 * @property {boolean} payment_needs_attention
 * @property {string | null} past_due_grace_ends_at RFC 3339
 * @property {PlanView} plan
 * @property {string | null} current_period_start RFC 3339
 * @property {string | null} current_period_end RFC 3339
 * @property {string | null} next_billing_date RFC 3339
 * @property {boolean} cancel_at_period_end
 * @property {UsageView | null} usage
 */

/**
 * A Checkout Session to send the browser to.
 * @typedef {object} CheckoutSession
 * @property {string} url
 * @property {string} id
 */

/**
 * A customer portal session to send the browser to.
 * @typedef {object} PortalSession
 * @property {string} url
 */

/**
 * What went wrong, for the page to choose its message:
 * - `unauthorized`: 401, or no token (sign in again);
 * - `conflict`: 409, a subscription already stands or a checkout was just completed;
 * - `not_found`: 404, no Stripe customer yet (portal before any subscription);
 * - `unavailable`: 5xx, a network failure or a time-out (retry later);
 * - `bad_response`: a 2xx answer that is not the documented JSON;
 * - `http`: any other status.
 * @typedef {'unauthorized' | 'conflict' | 'not_found' | 'unavailable' | 'bad_response' | 'http'} BillingErrorKind
 */

/** A failed billing API call. */
export class BillingApiError extends Error {
  /**
   * @param {string} message what to show or log (the API's `error` text when it sent one)
   * @param {{kind: BillingErrorKind, status: number, cause?: unknown}} details `status` is 0
   *   when no HTTP answer came (network failure, time-out, no token)
   */
  constructor(message, { kind, status, cause }) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'BillingApiError';
    /** @readonly */
    this.kind = kind;
    /** @readonly */
    this.status = status;
  }
}

/**
 * @typedef {object} BillingClientOptions
 * @property {string} apiBase the API's base URL ("" or "/" for the page's own origin)
 * @property {() => (string | null | undefined | Promise<string | null | undefined>)} getToken
 *   the signed-in user's bearer token (a Cognito ID/access token in production); nothing means
 *   signed out
 * @property {typeof fetch} [fetch] defaults to the global `fetch`
 * @property {number} [timeoutMs] per request, default 15000
 */

/**
 * @typedef {object} BillingClient
 * @property {() => Promise<SubscriptionView>} getSubscription
 * @property {() => Promise<CheckoutSession>} createCheckoutSession
 * @property {() => Promise<PortalSession>} createPortalSession
 */

/**
 * @param {number} status
 * @returns {BillingErrorKind}
 */
function kindOf(status) {
  if (status === 401) return 'unauthorized';
  if (status === 409) return 'conflict';
  if (status === 404) return 'not_found';
  if (status >= 500) return 'unavailable';
  return 'http';
}

/** @param {number} status */
function defaultMessage(status) {
  switch (kindOf(status)) {
    case 'unauthorized':
      return 'Your session has expired. Please sign in again.';
    case 'conflict':
      return 'You already have a subscription.';
    case 'not_found':
      return 'There is no billing account yet. Start a subscription first.';
    case 'unavailable':
      return 'Billing is temporarily unavailable. Please try again in a moment.';
    default:
      return `The billing service answered with HTTP ${status}.`;
  }
}

/**
 * Whether `value` is an absolute http(s) URL (never follow `javascript:` or relative URLs).
 * @param {unknown} value
 * @returns {value is string}
 */
function isHttpUrl(value) {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

/**
 * @param {unknown} value
 * @returns {value is Record<string, unknown>}
 */
function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const DECIMAL = /^-?\d+(\.\d+)?$/;

/**
 * Checks the documented shape of a subscription view (the fields the pages read).
 * @param {unknown} body
 * @returns {body is SubscriptionView}
 */
export function isSubscriptionView(body) {
  if (!isObject(body)) return false;
  if (typeof body.has_subscription !== 'boolean' || typeof body.status !== 'string') return false;
  if (typeof body.cancel_at_period_end !== 'boolean') return false;
  if (typeof body.payment_needs_attention !== 'boolean') return false;
  const plan = body.plan;
  if (!isObject(plan)) return false;
  for (const key of ['base_price_usd', 'included_usage_usd', 'usage_markup']) {
    if (typeof plan[key] !== 'string' || !DECIMAL.test(/** @type {string} */ (plan[key]))) return false;
  }
  const usage = body.usage;
  if (usage !== null && usage !== undefined) {
    if (!isObject(usage)) return false;
    for (const key of [
      'billed_usd',
      'allowance_usd',
      'remaining_allowance_usd',
      'overage_usd',
      'estimated_next_invoice_usd',
    ]) {
      if (typeof usage[key] !== 'string' || !DECIMAL.test(/** @type {string} */ (usage[key]))) return false;
    }
    if (typeof usage.percent_of_allowance_used !== 'number') return false;
  }
  return true;
}

/**
 * Makes a client for the billing API.
 * @param {BillingClientOptions} options
 * @returns {BillingClient}
 */
export function createBillingClient(options) {
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const timeoutMs = options.timeoutMs ?? 15000;
  const base = options.apiBase.replace(/\/+$/, '');

  /**
   * @param {'GET' | 'POST'} method
   * @param {string} path
   * @returns {Promise<unknown>} the parsed JSON of a 2xx answer
   */
  async function call(method, path) {
    const token = await options.getToken();
    if (!token) {
      throw new BillingApiError('You are signed out. Please sign in.', { kind: 'unauthorized', status: 0 });
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    /** @type {Response} */
    let response;
    try {
      response = await fetchImpl(`${base}${path}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
        signal: controller.signal,
        cache: 'no-store',
      });
    } catch (cause) {
      const timedOut = controller.signal.aborted;
      throw new BillingApiError(
        timedOut
          ? 'Billing took too long to answer. Please try again.'
          : 'Could not reach billing. Check your connection and try again.',
        { kind: 'unavailable', status: 0, cause },
      );
    } finally {
      clearTimeout(timer);
    }
    const text = await response.text().catch(() => '');
    /** @type {unknown} */
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (!response.ok) {
      // The API's 4xx texts are written for users; 5xx answers are replaced by ours.
      const apiMessage =
        response.status < 500 && isObject(body) && typeof body.error === 'string' ? body.error : null;
      throw new BillingApiError(apiMessage ?? defaultMessage(response.status), {
        kind: kindOf(response.status),
        status: response.status,
      });
    }
    if (body === null) {
      throw new BillingApiError('Billing sent an answer that could not be read.', {
        kind: 'bad_response',
        status: response.status,
      });
    }
    return body;
  }

  /**
   * A 2xx answer that is not the documented JSON.
   * @returns {never}
   */
  function badShape() {
    throw new BillingApiError('Billing sent an answer that could not be read.', { kind: 'bad_response', status: 200 });
  }

  return {
    async getSubscription() {
      const body = await call('GET', '/admin/billing/subscription');
      if (!isSubscriptionView(body)) return badShape();
      return body;
    },
    async createCheckoutSession() {
      const body = await call('POST', '/admin/billing/checkout-session');
      if (!isObject(body) || !isHttpUrl(body.url) || typeof body.id !== 'string') return badShape();
      return { url: body.url, id: body.id };
    },
    async createPortalSession() {
      const body = await call('POST', '/admin/billing/portal-session');
      if (!isObject(body) || !isHttpUrl(body.url)) return badShape();
      return { url: body.url };
    },
  };
}
