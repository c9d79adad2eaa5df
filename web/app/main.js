// @ts-check
/**
 * The stand-alone page served by the local stack at `/`: a stand-in for the host app. Locally
 * there is no Cognito, so when `GET /dev/info` answers it offers a small sign-in / sign-up form
 * (`POST /dev/signup`) and keeps the token in `sessionStorage`; it also offers local-only tools to
 * record AI usage and advance the customer's test clock. In production the host app mounts the
 * screens itself with {@link mountBilling} and its own token (see web/README.md).
 *
 * Routes: `#/setup-billing`, `#/billing`, anything else picks the screen from the subscription.
 *
 * @module main
 */

import { mountBilling, parseCheckoutResult } from './billing.js';
import { h } from './dom.js';
import { formatUsd, multiplyAmounts } from './money.js';
import { createDevClient, DevApiError } from './dev-client.js';

const SESSION_KEY = 'leadmagnet.billing.session';

/** @typedef {{token: string, email: string, name: string, customer_id: string}} LocalSession */

/** @returns {LocalSession | null} */
function loadSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null');
    return saved && typeof saved.token === 'string' ? saved : null;
  } catch {
    return null;
  }
}

/** @param {LocalSession | null} session */
function saveSession(session) {
  if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(SESSION_KEY);
}

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const account = /** @type {HTMLElement} */ (document.getElementById('account'));
const nav = /** @type {HTMLElement} */ (document.getElementById('nav'));
const tools = /** @type {HTMLElement} */ (document.getElementById('dev-tools'));
const dev = createDevClient(window.location.origin, () => loadSession()?.token ?? null);

/** @type {import('./billing.js').BillingController | null} */
let controller = null;
/** @type {boolean | null} whether the local stack's /dev routes answer */
let local = null;
/** A message for the sign-in screen (e.g. after a 401). */
let signInNotice = /** @type {string | null} */ (null);
let firstRoute = true;

/** @returns {'setup' | 'usage' | 'auto'} */
function routePage() {
  const hash = window.location.hash;
  if (hash === '#/setup-billing') return 'setup';
  if (hash === '#/billing') return 'usage';
  return 'auto';
}

function renderChrome() {
  const session = loadSession();
  const page = routePage();
  nav.replaceChildren();
  account.replaceChildren();
  if (session) {
    nav.append(
      h('a', { href: '#/setup-billing', 'aria-current': page === 'setup' ? 'page' : false }, 'Set up billing'),
      h('a', { href: '#/billing', 'aria-current': page === 'usage' ? 'page' : false }, 'Billing & usage'),
    );
    account.append(
      h('span', { class: 'who' }, `Signed in as ${session.email}`),
      h('button', { type: 'button', class: 'button button--quiet', onclick: signOut }, 'Sign out'),
    );
  }
}

function signOut() {
  saveSession(null);
  signInNotice = 'You are signed out.';
  route();
}

function route() {
  controller?.destroy();
  controller = null;
  renderChrome();
  const session = loadSession();
  if (!session) {
    tools.replaceChildren();
    main.replaceChildren(local ? signInView() : hostOnlyView());
    if (!firstRoute) main.querySelector('h1')?.focus();
    firstRoute = false;
    return;
  }
  const checkoutResult = parseCheckoutResult(window.location.search);
  if (checkoutResult) {
    // Show the message once; a reload should not repeat it.
    history.replaceState(null, '', window.location.pathname + window.location.hash);
  }
  controller = mountBilling(main, {
    apiBase: window.location.origin,
    getToken: () => loadSession()?.token ?? null,
    onUnauthorized: () => {
      saveSession(null);
      signInNotice = 'Your session has expired. Please sign in again.';
      route();
    },
    page: routePage(),
    checkoutResult,
    focusHeading: !firstRoute,
  });
  firstRoute = false;
  tools.replaceChildren(local ? devToolsView() : '');
}

function hostOnlyView() {
  return h('section', { class: 'billing-panel', 'aria-labelledby': 'host-heading' },
    h('h1', { id: 'host-heading', tabindex: '-1' }, 'Sign in required'),
    h('p', {}, 'These billing screens run inside the Lead Magnet AI app, which signs you in. Open Billing from the app.'));
}

function signInView() {
  /** @type {HTMLParagraphElement | null} */
  let error = null;
  const email = h('input', { id: 'signin-email', name: 'email', type: 'email', required: true, autocomplete: 'email' });
  const name = h('input', { id: 'signin-name', name: 'name', type: 'text', required: true, autocomplete: 'name' });
  const submit = h('button', { type: 'submit', class: 'button button--primary' }, 'Sign up');
  const form = h('form', {
    class: 'card form',
    'aria-describedby': 'signin-help',
    onsubmit: async (event) => {
      event.preventDefault();
      error?.remove();
      submit.disabled = true;
      submit.textContent = 'Signing up…';
      try {
        const answer = await dev.signUp(email.value.trim(), name.value.trim());
        saveSession({ token: answer.token, customer_id: answer.customer_id, email: email.value.trim(), name: name.value.trim() });
        signInNotice = null;
        // A new user lands on the screen that fits: Set up billing without a subscription.
        if (window.location.hash) history.replaceState(null, '', window.location.pathname);
        firstRoute = false;
        route();
      } catch (e) {
        submit.disabled = false;
        submit.textContent = 'Sign up';
        error = h('p', { class: 'alert alert--danger', role: 'alert' }, e instanceof Error ? e.message : 'Sign-up failed.');
        form.append(error);
      }
    },
  },
  h('div', { class: 'field' }, h('label', { for: 'signin-email' }, 'Email'), email),
  h('div', { class: 'field' }, h('label', { for: 'signin-name' }, 'Name'), name),
  submit);
  return h('section', { class: 'billing-panel', 'aria-labelledby': 'signin-heading', 'data-testid': 'sign-in' },
    h('h1', { id: 'signin-heading', tabindex: '-1' }, 'Sign up'),
    signInNotice ? h('div', { class: 'alert alert--info', role: 'status', 'data-testid': 'signin-notice' }, h('p', {}, signInNotice)) : null,
    h('p', { id: 'signin-help', class: 'muted' },
      'Local stack only: there is no Cognito here, so this form signs you up as a new customer and keeps its test token in this tab only. Signing up again, even with the same email, makes another customer.'),
    form);
}

function devToolsView() {
  const status = h('p', { class: 'muted', role: 'status', 'data-testid': 'dev-status' });
  const cost = h('input', { id: 'dev-cost', name: 'openai_cost_usd', type: 'text', inputmode: 'decimal', required: true, pattern: '\\d+(\\.\\d+)?', value: '1.00', 'aria-describedby': 'dev-cost-help' });
  const days = h('input', { id: 'dev-days', name: 'days', type: 'number', min: '1', max: '400', required: true, value: '31' });

  /**
   * @param {() => Promise<string>} action
   * @param {HTMLButtonElement} button
   */
  async function run(action, button) {
    button.disabled = true;
    try {
      status.textContent = await action();
    } catch (e) {
      if (e instanceof DevApiError && e.status === 401) {
        saveSession(null);
        signInNotice = 'Your session has expired. Please sign in again.';
        route();
        return;
      }
      status.textContent = e instanceof Error ? e.message : 'That did not work.';
    } finally {
      button.disabled = false;
    }
  }

  const usageButton = h('button', { type: 'submit', class: 'button' }, 'Record usage');
  const clockButton = h('button', { type: 'submit', class: 'button' }, 'Advance clock');
  return h('section', { class: 'card dev-tools', 'aria-labelledby': 'dev-heading', 'data-testid': 'dev-tools' },
    h('h2', { id: 'dev-heading' }, 'Local tools'),
    h('p', { class: 'muted' }, 'Only in the local stack: stand-ins for the app producing AI usage and for time passing.'),
    h('form', {
      class: 'inline-form',
      onsubmit: (event) => {
        event.preventDefault();
        void run(async () => {
          const value = cost.value.trim();
          const before = controller?.current()?.usage?.billed_usd ?? null;
          await dev.recordUsage(value);
          status.textContent = `Recorded ${formatUsd(value)} of AI cost (billed ${formatUsd(multiplyAmounts(value, controller?.current()?.plan.usage_markup ?? '2'))}). Updating…`;
          const applied = await controller?.refreshUntil((v) => (v.usage?.billed_usd ?? null) !== before, 15000);
          return applied
            ? `Recorded ${formatUsd(value)} of AI cost; usage is updated.`
            : `Recorded ${formatUsd(value)} of AI cost; it is not applied yet (usage counts only with a subscription).`;
        }, usageButton);
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'dev-cost' }, 'AI (OpenAI) cost in USD'), cost,
      h('span', { id: 'dev-cost-help', class: 'hint' }, 'Billed at the plan’s markup, e.g. 4.10 bills $8.20.')),
    usageButton),
    h('form', {
      class: 'inline-form',
      onsubmit: (event) => {
        event.preventDefault();
        void run(async () => {
          const before = controller?.current() ?? null;
          await dev.advanceClock(Number(days.value));
          // the webhooks of what the clock ran (a new period, an ended subscription) follow
          const changed = await controller?.refreshUntil(
            (v) => v.status !== before?.status || v.current_period_start !== before?.current_period_start,
            15000,
          );
          return changed
            ? `Advanced the test clock by ${days.value} days.`
            : `Advanced the test clock by ${days.value} days; the subscription did not change.`;
        }, clockButton);
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'dev-days' }, 'Days'), days),
    clockButton),
    status);
}

async function start() {
  local = await dev.isLocalStack();
  route();
  window.addEventListener('hashchange', () => {
    firstRoute = false;
    route();
  });
}

void start();
