// Record and transcribe: Chromium's fake microphone is recorded, then sent in one request to the Sync API.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { env, launch, newPage, screenshot, signIn } from './support.mjs';

let browser;

before(async () => {
  assert.ok(process.env.LS_FAKE_MIC_WAV, 'the wrapper passes a WAV file for the fake microphone');
  browser = await launch([
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    `--use-file-for-fake-audio-capture=${process.env.LS_FAKE_MIC_WAV}`,
    '--autoplay-policy=no-user-gesture-required',
  ]);
});
after(async () => browser?.close());

test('a recording goes to POST /v1/transcribe and its transcript is shown', async () => {
  const { context, page, problems } = await newPage(browser);
  await context.grantPermissions(['microphone'], { origin: env.base });
  const requests = [];
  page.on('request', (r) => r.url().includes('/v1/transcribe') && requests.push(r));
  await signIn(page);
  await page.waitForSelector('#transcribe-form');
  await page.click('nav a[data-view=live]');
  await page.click('#sync-record');
  await page.waitForSelector('#sync-status:text("Recording")', { timeout: 15_000 });
  await page.waitForTimeout(2500);
  await page.click('#sync-stop');
  await page.waitForSelector('#sync-status:text("answered in")', { timeout: 120_000 });
  const text = (await page.textContent('#sync-text')).trim();
  console.log(`SYNC_TEXT ${JSON.stringify(text)}`);
  assert.ok(text.length > 0 && text !== '(no words)', 'the transcript has words');
  assert.equal(requests.length, 1);
  assert.equal(new URL(requests[0].url()).pathname, '/v1/transcribe');
  assert.equal(requests[0].headers()['x-aai-model'], 'universal-3-5-pro');
  await screenshot(page, 'sync');
  assert.deepEqual(problems, []);
});
