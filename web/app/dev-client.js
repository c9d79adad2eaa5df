// @ts-check
/**
 * The local stack's development routes (`/dev/*`), which exist only in `crates/local-stack`:
 * sign-up without Cognito, usage records as the app would write them, and the test clock.
 *
 * @module dev-client
 */

/** A failed `/dev` call. */
export class DevApiError extends Error {
  /**
   * @param {string} message
   * @param {number} status 0 when no HTTP answer came
   */
  constructor(message, status) {
    super(message);
    this.name = 'DevApiError';
    /** @readonly */
    this.status = status;
  }
}

/**
 * @typedef {object} DevInfo
 * @property {string} api_base_url
 * @property {string} stripe_base_url
 * @property {string} allowance_mode
 */

/**
 * @param {string} origin the local stack's API origin
 * @param {() => string | null} getToken
 * @param {typeof fetch} [fetchImpl]
 */
export function createDevClient(origin, getToken, fetchImpl = globalThis.fetch.bind(globalThis)) {
  const base = origin.replace(/\/+$/, '');

  /**
   * @param {string} path
   * @param {unknown} body
   * @param {boolean} auth
   */
  async function post(path, body, auth) {
    /** @type {Record<string, string>} */
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
    if (auth) {
      const token = getToken();
      if (!token) throw new DevApiError('You are signed out.', 401);
      headers.Authorization = `Bearer ${token}`;
    }
    /** @type {Response} */
    let response;
    try {
      response = await fetchImpl(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    } catch {
      throw new DevApiError('Could not reach the local stack. Is it running?', 0);
    }
    const text = await response.text();
    /** @type {any} */
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!response.ok) {
      const message = json && typeof json.error === 'string' ? json.error : `HTTP ${response.status}`;
      throw new DevApiError(message, response.status);
    }
    return json;
  }

  return {
    /** @returns {Promise<boolean>} whether `GET /dev/info` answers (the page runs in the local stack) */
    async isLocalStack() {
      try {
        const response = await fetchImpl(`${base}/dev/info`, { headers: { Accept: 'application/json' } });
        if (!response.ok) return false;
        const info = await response.json();
        return Boolean(info && typeof info.api_base_url === 'string');
      } catch {
        return false;
      }
    },
    /**
     * @param {string} email
     * @param {string} name
     * @returns {Promise<{customer_id: string, token: string}>}
     */
    async signUp(email, name) {
      const answer = await post('/dev/signup', { email, name }, false);
      if (!answer || typeof answer.token !== 'string' || typeof answer.customer_id !== 'string') {
        throw new DevApiError('The local stack sent an unexpected sign-up answer.', 200);
      }
      return answer;
    },
    /** @param {string} openaiCostUsd decimal text, e.g. "4.10" */
    async recordUsage(openaiCostUsd) {
      return post('/dev/usage', { openai_cost_usd: openaiCostUsd }, true);
    },
    /** @param {number} days */
    async advanceClock(days) {
      return post('/dev/clock/advance', { days }, true);
    },
  };
}
