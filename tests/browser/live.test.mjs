// Live: Chromium's fake microphone plays a WAV file; the page streams it over /v3/ws and shows turns.
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

test('the microphone streams over /v3/ws: partials, then a final turn, then a clean end', async () => {
  const { context, page, problems } = await newPage(browser);
  await context.grantPermissions(['microphone'], { origin: env.base });
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await signIn(page);
  await page.waitForSelector('#transcribe-form');
  await page.click('nav a[data-view=live]');
  const began = Date.now();
  await page.click('#live-start');
  await page.waitForSelector('#live-status:text("Listening")', { timeout: 15_000 });
  const final = await page.waitForSelector('#turns .turn[data-final=true]', { timeout: 60_000 });
  console.log(`FIRST_FINAL_TURN_MS ${Date.now() - began}`);
  assert.ok((await final.textContent()).trim().length > 0, 'a final turn has words');
  // format_turns=true: the end of turn comes again, formatted, and replaces the plain text
  const formatted = await page.waitForSelector('#turns .turn[data-formatted=true]', { timeout: 15_000 });
  console.log(`FIRST_TURN ${JSON.stringify(await formatted.textContent())}`);
  assert.ok(Number(await page.getAttribute('#turns', 'data-partials')) > 0, 'partials were shown first');
  if (env.expectText) {
    // later turns bring the rest of the recording: wait until the expected words have been said
    await page.waitForFunction(
      (pattern) => new RegExp(pattern).test(document.querySelector('#turns').textContent.toLowerCase()),
      env.expectText,
      { timeout: 30_000 },
    );
  }
  await screenshot(page, 'live');
  await page.click('#live-stop');
  await page.waitForSelector('#live-status:text("Ended")', { timeout: 15_000 });
  assert.equal(sockets.length, 1);
  const url = new URL(sockets[0]);
  assert.equal(url.pathname, '/v3/ws');
  assert.equal(url.searchParams.get('sample_rate'), '16000');
  assert.equal(url.searchParams.get('encoding'), 'pcm_s16le');
  assert.ok(url.searchParams.get('token'), 'a temporary token, never the API key, in the URL');
  assert.notEqual(url.searchParams.get('token'), env.key);
  assert.deepEqual(problems, []);
});
