// A tiny stand-in for the billing API's documented JSON (the three routes, bearer auth), for the
// client's unit tests and the page-variant browser tests. It can also serve web/app at `/`.
// It is not the local stack: the browser journey runs against the real one.

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const APP_DIR = fileURLToPath(new URL('../../app/', import.meta.url));
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/**
 * @typedef {object} FakeApiState
 * @property {string} token the accepted bearer token
 * @property {any} subscription the body of GET /admin/billing/subscription
 * @property {{status: number, body: any} | null} next a forced answer for the next API call
 * @property {string} checkoutUrl
 * @property {string} portalUrl
 * @property {{method: string, path: string, authorization: string | undefined}[]} calls
 */

/**
 * Starts the fake API on a free loopback port.
 * @param {Partial<FakeApiState>} initial
 * @returns {Promise<{url: string, state: FakeApiState, close: () => Promise<void>}>}
 */
export async function startFakeApi(initial = {}) {
  /** @type {FakeApiState} */
  const state = {
    token: 'good-token',
    subscription: null,
    next: null,
    checkoutUrl: 'https://checkout.example.test/c/pay/cs_test_1',
    portalUrl: 'https://portal.example.test/p/session/bps_1',
    calls: [],
    ...initial,
  };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = `${req.method} ${url.pathname}`;
    const json = (status, body) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    const api = {
      'GET /admin/billing/subscription': () => state.subscription,
      'POST /admin/billing/checkout-session': () => ({ url: state.checkoutUrl, id: 'cs_test_1' }),
      'POST /admin/billing/portal-session': () => ({ url: state.portalUrl }),
    };
    if (route in api) {
      state.calls.push({ method: req.method ?? '', path: url.pathname, authorization: req.headers.authorization });
      if (req.headers.authorization !== `Bearer ${state.token}`) return json(401, { error: 'unauthorized' });
      if (state.next) {
        const { status, body } = state.next;
        state.next = null;
        return json(status, body);
      }
      return json(200, api[route]());
    }
    if (req.method === 'GET') {
      const path = normalize(url.pathname === '/' ? '/index.html' : url.pathname);
      if (!path.includes('..')) {
        try {
          const body = await readFile(join(APP_DIR, path));
          res.writeHead(200, { 'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream' });
          return res.end(body);
        } catch {
          // fall through to 404
        }
      }
    }
    json(404, { error: 'not found' });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}
