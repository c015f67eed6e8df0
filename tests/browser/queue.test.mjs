// A throttled job shows its place in the account's queue, then moves on to completed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { env, launch, newPage, screenshot, signIn } from './support.mjs';

const ids = (process.env.LS_QUEUED_IDS || '').split(',').filter(Boolean);
let browser;

before(async () => {
  browser = await launch();
});
after(async () => browser?.close());

test('queued behind the limit: position shown, then completed', async () => {
  assert.ok(ids.length >= 3, 'the wrapper creates three jobs on an account limited to one at a time');
  const { page, problems } = await newPage(browser);
  await signIn(page);
  await page.waitForSelector('#transcribe-form');
  const last = ids[ids.length - 1];
  await page.goto(`${env.base}/#/t/${last}`);
  const note = await page.waitForSelector('#queue-position', { timeout: 20_000 });
  const text = await note.textContent();
  assert.match(text, /position \d+ in this account's queue/);
  assert.match(text, /limit: 1 processing at once/);
  const position = Number(text.match(/position (\d+)/)[1]);
  assert.ok(position >= 1 && position <= ids.length - 1, text);
  await screenshot(page, 'queued');
  await page.waitForSelector('#steps[data-status=completed]', { timeout: 60_000 });
  await page.waitForSelector('#transcript .w');
  assert.deepEqual(problems, []);
});
