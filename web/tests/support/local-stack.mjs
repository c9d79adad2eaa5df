// Starts the real local stack (crates/local-stack) on free loopback ports for the browser
// journey, and stops it, with everything it started, even when the test fails.

import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const WEB_APP = fileURLToPath(new URL('../../app/', import.meta.url));

/** @returns {Promise<number>} a port that was free a moment ago */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The local-stack binary: LOCAL_STACK_BIN as given, else `target/debug/local-stack` brought up to
 * date with `cargo build -p local-stack` (a no-op when nothing changed).
 * @returns {string}
 */
export function localStackBinary() {
  if (process.env.LOCAL_STACK_BIN) return process.env.LOCAL_STACK_BIN;
  const targetDir = process.env.CARGO_TARGET_DIR || `${REPO}target`;
  const built = spawnSync('cargo', ['build', '--quiet', '-p', 'local-stack', '--bin', 'local-stack'], {
    cwd: REPO,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (built.status !== 0) throw new Error(`cargo build -p local-stack failed (${built.error?.message ?? `exit ${built.status}`})`);
  const bin = `${targetDir}/debug/local-stack`;
  if (!existsSync(bin)) throw new Error(`${bin} is missing after the build`);
  return bin;
}

/**
 * @typedef {object} RunningStack
 * @property {string} apiBase e.g. http://127.0.0.1:41234
 * @property {any} info what GET /dev/info answered
 * @property {() => Promise<void>} stop
 */

/**
 * Spawns the stack in its own process group and waits until GET /dev/info answers.
 * @param {{logPath: string, timeoutMs?: number}} options
 * @returns {Promise<RunningStack>}
 */
export async function startLocalStack({ logPath, timeoutMs = 90000 }) {
  const bin = localStackBinary();
  const apiPort = await freePort();
  const stripePort = await freePort();
  const log = createWriteStream(logPath);
  const child = spawn(
    bin,
    ['serve', '--api-port', String(apiPort), '--stripe-port', String(stripePort), '--web-dir', WEB_APP],
    {
      cwd: REPO,
      detached: true, // its own process group: stopping it stops whatever it started
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOCAL_API_PORT: String(apiPort), STRIPE_SIM_PORT: String(stripePort), RUST_LOG: process.env.RUST_LOG ?? 'info' },
    },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let exited = /** @type {null | string} */ (null);
  const exitedPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = `exit code ${code}, signal ${signal}`;
      resolve(undefined);
    });
  });

  const killGroup = (/** @type {NodeJS.Signals} */ signal) => {
    if (exited !== null || child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  // Last resort if the test process dies without running its cleanup: on exit, and on the
  // signals a CI runner or Ctrl-C sends.
  const onExit = () => killGroup('SIGKILL');
  const onSignal = (/** @type {NodeJS.Signals} */ signal) => {
    killGroup('SIGKILL');
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const stop = async () => {
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (exited === null) {
      killGroup('SIGTERM');
      const timer = setTimeout(() => killGroup('SIGKILL'), 5000);
      await exitedPromise;
      clearTimeout(timer);
    }
    // the group may hold children that outlived the leader
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // none left
    }
    await new Promise((resolve) => log.end(resolve));
  };

  const apiBase = `http://127.0.0.1:${apiPort}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited !== null) {
      await stop();
      throw new Error(`the local stack stopped before answering (${exited}); see ${logPath}`);
    }
    try {
      const response = await fetch(`${apiBase}/dev/info`);
      if (response.ok) {
        return { apiBase, info: await response.json(), stop };
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the local stack did not answer GET /dev/info within ${timeoutMs} ms; see ${logPath}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
