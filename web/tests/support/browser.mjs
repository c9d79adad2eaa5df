// Launches Debian's Chromium headless through playwright-core (never a downloaded browser).

import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

/** Where Debian's package puts Chromium; CHROMIUM_PATH overrides it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Flags that keep the browser headless and off the network. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * Starts a headless Chromium. Each launch gets a fresh temporary profile (user-data-dir) that
 * playwright deletes on close.
 * @returns {Promise<import('playwright-core').Browser>}
 */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/** The viewports the pages are checked at. */
export const DESKTOP = { width: 1280, height: 900 };
export const NARROW = { width: 320, height: 720 };
