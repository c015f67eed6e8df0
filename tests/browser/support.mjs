// Shared by the browser scenarios: Debian's chromium driven headless by playwright-core, and the settings the
// pytest wrapper (tests/test_playground_browser.py) passes in the environment.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const env = {
  base: process.env.LS_BASE_URL,
  key: process.env.LS_API_KEY,
  audio: process.env.LS_AUDIO,
  shots: process.env.LS_SCREENSHOTS || '',
  expectText: process.env.LS_EXPECT_TEXT || '',
};
assert.ok(env.base && env.key, 'run through tests/test_playground_browser.py (LS_BASE_URL, LS_API_KEY)');

export const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
];

export function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.LS_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [...ARGS, ...extraArgs],
  });
}

/** A page that fails the test on any console error or uncaught exception, and on requests to other hosts. */
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true, ...options });
  const page = await context.newPage();
  const problems = [];
  // the page's own origin, plus the file server of a URL job (its audio plays from there, by design)
  const allowed = [new URL(env.base).host, ...(process.env.LS_AUDIO_URL ? [new URL(process.env.LS_AUDIO_URL).host] : [])];
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`));
  page.on('console', (msg) => {
    // the browser logs every 4xx; a refused key (401) is a scenario of its own, checked on the page
    if (msg.type() === 'error' && !/status of 401/.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  page.on('request', (req) => {
    const url = new URL(req.url());
    if (['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol) && !allowed.includes(url.host)) problems.push(`external request: ${req.url()}`);
  });
  return { context, page, problems };
}

export async function signIn(page, key = env.key) {
  await page.goto(`${env.base}/`);
  await page.fill('#api-key', key);
  await page.click('#signin-form button[type=submit]');
}

export async function screenshot(page, name) {
  if (!env.shots) return;
  mkdirSync(env.shots, { recursive: true });
  await page.screenshot({ path: join(env.shots, `playground-${name}.png`), fullPage: false });
}
