// Sign in, upload a recording, see its words, seek by clicking one, download captions, find it on the jobs page.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { env, launch, newPage, screenshot, signIn } from './support.mjs';

let browser;
let session;
let transcriptId;

before(async () => {
  browser = await launch();
  session = await newPage(browser);
});
after(async () => {
  await browser?.close();
});

test('first load: same-origin assets only, and their weight', async () => {
  const { page } = session;
  await page.goto(`${env.base}/`);
  await page.waitForSelector('#signin:not([hidden])');
  const weight = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const assets = performance.getEntriesByType('resource').filter((r) => !['fetch', 'xmlhttprequest'].includes(r.initiatorType));
    return {
      files: assets.length + 1,
      transfer: nav.transferSize + assets.reduce((n, r) => n + r.transferSize, 0),
      decoded: nav.decodedBodySize + assets.reduce((n, r) => n + r.decodedBodySize, 0),
    };
  });
  console.log(`PAGE_WEIGHT files=${weight.files} transfer_kb=${(weight.transfer / 1024).toFixed(1)} decoded_kb=${(weight.decoded / 1024).toFixed(1)}`);
  assert.ok(weight.transfer > 0 && weight.transfer < 150 * 1024, `first load transferred ${weight.transfer} bytes`);
  await screenshot(page, 'signin');
});

test('a wrong key is refused; the right one is kept in sessionStorage only', async () => {
  const { page } = session;
  await signIn(page, 'not-a-key');
  await page.waitForSelector('#signin-error:text("not valid")');
  assert.equal(await page.isVisible('#nav'), false);
  await signIn(page);
  await page.waitForSelector('#transcribe-form');
  const stored = await page.evaluate(() => ({ session: { ...sessionStorage }, local: localStorage.length }));
  assert.equal(stored.session['localscribe.apiKey'], env.key);
  assert.equal(stored.local, 0);
  await page.waitForSelector('#limits:text("processing")');
});

test('upload a file: the job completes and its words appear', async () => {
  const { page } = session;
  await page.setInputFiles('#file', env.audio);
  await page.check('input[name=speaker_labels]');
  const body = JSON.parse(await page.textContent('#request-preview'));
  assert.deepEqual(body, { audio_url: '<upload_url>', speaker_labels: true });
  await page.uncheck('input[name=speaker_labels]'); // defaults only: this job times the plain path
  await screenshot(page, 'transcribe');
  const [created] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/v2/transcript') && r.request().method() === 'POST'),
    page.click('#transcribe'),
  ]);
  assert.equal(created.status(), 200);
  transcriptId = (await created.json()).id;
  await page.waitForURL(`**/#/t/${transcriptId}`);
  await page.waitForSelector('#transcript .w', { timeout: 60_000 });
  const firstWordMs = Number(await page.getAttribute('#view', 'data-first-word-ms'));
  console.log(`FIRST_WORD_MS ${firstWordMs}`);
  assert.ok(firstWordMs > 0);
  assert.equal(await page.getAttribute('#steps', 'data-status'), 'completed');
  assert.doesNotMatch(await page.textContent('#view'), /null|undefined|NaN/);

  const api = await (await fetch(`${env.base}/v2/transcript/${transcriptId}`, { headers: { Authorization: env.key } })).json();
  const shown = await page.$$eval('#transcript .w', (els) => els.map((e) => e.textContent));
  assert.deepEqual(shown, api.words.map((w) => w.text));
  if (env.expectText) assert.match(api.text.toLowerCase(), new RegExp(env.expectText));
});

test('clicking a word seeks the player to it and marks it current', async () => {
  const { page } = session;
  await page.waitForFunction(() => document.querySelector('#player').readyState >= 1, null, { timeout: 15_000 });
  const words = await page.$$('#transcript .w');
  const target = words[Math.floor(words.length * 0.6)];
  const start = Number(await target.getAttribute('data-start')) / 1000;
  assert.ok(start > 1, 'a word well inside the recording');
  await target.click();
  await page.waitForFunction(() => !document.querySelector('#player').paused || document.querySelector('#player').currentTime > 0);
  const now = await page.$eval('#player', (a) => a.currentTime);
  assert.ok(now >= start - 0.05 && now < start + 1.5, `player at ${now}s after clicking a word at ${start}s`);
  const current = await page.$eval('#transcript .w.now', (e) => Number(e.dataset.start) / 1000);
  assert.ok(Math.abs(current - start) < 1.5, `highlighted word at ${current}s`);
  // as it plays, the highlight moves on to the next words
  const index = Number(await page.$eval('#transcript .w.now', (e) => e.dataset.i));
  await page.waitForFunction((i) => Number(document.querySelector('#transcript').dataset.currentWord) > i, index, { timeout: 10_000 });
  await screenshot(page, 'result');
  await page.$eval('#player', (a) => a.pause());
});

test('captions and JSON download with the key', async () => {
  const { page } = session;
  const [srt] = await Promise.all([page.waitForEvent('download'), page.click('[data-download=srt]')]);
  assert.equal(srt.suggestedFilename(), `${transcriptId}.srt`);
  const text = readFileSync(await srt.path(), 'utf8');
  assert.match(text, /^1\r?\n00:00:\d\d,\d{3} --> /);
  const [json] = await Promise.all([page.waitForEvent('download'), page.click('[data-download=json]')]);
  assert.equal(JSON.parse(readFileSync(await json.path(), 'utf8')).id, transcriptId);
});

test('the jobs page lists the transcript with its timings', async () => {
  const { page } = session;
  await page.click('nav a[data-view=jobs]');
  const row = page.locator(`#jobs-table tr[data-id="${transcriptId}"]`);
  await row.waitFor();
  assert.equal(await row.getAttribute('data-status'), 'completed');
  assert.match(await row.locator('[data-col=processing]').textContent(), /\d+\.\d+ s/);
  await page.waitForSelector('#jobs-limits:text("Limits in use")');
  await row.locator('a').click();
  await page.waitForSelector('#transcript .w');
  // opened from the list, the audio comes from the server (not the file picked earlier) and still plays
  await page.waitForFunction(() => document.querySelector('#player').readyState >= 1, null, { timeout: 15_000 });
});

test('speakers, key phrases, entities and redacted PII are marked inline', async () => {
  const { page } = session;
  await page.click('nav a[data-view=transcribe]');
  await page.setInputFiles('#file', env.audio);
  for (const name of ['speaker_labels', 'auto_highlights', 'entity_detection', 'redact_pii']) {
    await page.check(`input[name=${name}]`);
  }
  await page.check('input[name=redact_pii_policies][value=location]');
  const body = JSON.parse(await page.textContent('#request-preview'));
  assert.deepEqual(body.redact_pii_policies, ['person_name', 'phone_number', 'location']);
  assert.equal(body.redact_pii_sub, 'hash');
  await page.click('#transcribe');
  await page.waitForSelector('#steps[data-status=completed], #steps[data-status=error]', { timeout: 120_000 });
  assert.equal(await page.getAttribute('#steps', 'data-status'), 'completed', await page.textContent('#view'));
  const id = page.url().split('/t/')[1];
  const t = await (await fetch(`${env.base}/v2/transcript/${id}`, { headers: { Authorization: env.key } })).json();
  const count = (sel) => page.locator(sel).count();
  assert.equal(await count('#transcript .speaker'), t.utterances.length);
  assert.ok(t.utterances.length > 0);
  const redacted = t.words.filter((w) => /#{2,}/.test(w.text)).length;
  assert.equal(await count('#transcript .w.pii'), redacted);
  if (process.env.LS_EXPECT_PII) assert.ok(redacted > 0, 'the scripted mock text names a person');
  const highlights = t.auto_highlights_result?.results || [];
  assert.equal(await count('#highlights .chip'), highlights.length);
  if (highlights.length) assert.ok((await count('#transcript .w.hl')) > 0);
  assert.equal(await count('#entities .chip'), (t.entities || []).length);
  if ((t.entities || []).length) assert.ok((await count('#transcript .w.ent')) > 0);
  await screenshot(page, 'intelligence');
});

test('multichannel: each channel in its own column', { skip: !process.env.LS_STEREO && 'no LS_STEREO' }, async () => {
  const { page } = session;
  await page.click('nav a[data-view=transcribe]');
  await page.setInputFiles('#file', process.env.LS_STEREO);
  await page.check('input[name=multichannel]');
  await page.click('#transcribe');
  await page.waitForSelector('#steps[data-status=completed]', { timeout: 60_000 });
  const id = page.url().split('/t/')[1];
  const t = await (await fetch(`${env.base}/v2/transcript/${id}`, { headers: { Authorization: env.key } })).json();
  assert.equal(t.audio_channels, 2);
  const channels = await page.$$eval('#transcript .channel', (els) => els.map((e) => e.querySelector('h3').textContent));
  assert.deepEqual(channels, ['Channel 1', 'Channel 2']);
  for (const channel of ['1', '2']) {
    const shown = await page.$$eval(`#transcript .channel[data-channel="${channel}"] .w`, (els) => els.map((e) => e.textContent));
    const expected = t.utterances.filter((u) => u.channel === channel).flatMap((u) => u.words.map((w) => w.text));
    assert.deepEqual(shown, expected);
    assert.ok(shown.length > 0);
  }
  // both channels speak at once: each column highlights its own current word
  await page.waitForFunction(() => document.querySelector('#player').readyState >= 1, null, { timeout: 15_000 });
  await page.click('#transcript .channel[data-channel="2"] .w >> nth=3');
  await page.waitForFunction(() => document.querySelectorAll('#transcript .w.now').length === 2);
  await page.$eval('#player', (a) => a.pause());
  await screenshot(page, 'multichannel');
});

test('a URL job: transcribed from the link, played from it, then deleted from the jobs page',
  { skip: !process.env.LS_AUDIO_URL && 'no LS_AUDIO_URL' }, async () => {
    const { page } = session;
    const link = process.env.LS_AUDIO_URL;
    await page.click('nav a[data-view=transcribe]');
    await page.fill('#audio-url', link);
    assert.equal(JSON.parse(await page.textContent('#request-preview')).audio_url, link);
    await page.click('#transcribe');
    await page.waitForSelector('#steps[data-status=completed]', { timeout: 60_000 });
    const id = page.url().split('/t/')[1];
    await page.waitForSelector('#transcript .w');
    assert.equal(await page.$eval('#player', (a) => a.src), link);
    await page.waitForFunction(() => document.querySelector('#player').readyState >= 1, null, { timeout: 15_000 });

    await page.click('nav a[data-view=jobs]');
    const row = page.locator(`#jobs-table tr[data-id="${id}"]`);
    assert.equal(await row.locator('td.src').textContent(), link);
    await screenshot(page, 'jobs');
    page.once('dialog', (dialog) => dialog.accept());
    await row.locator('[data-delete]').click();
    await page.waitForSelector(`#jobs-table tr[data-id="${id}"] td.src:text-is("deleted")`);
    assert.equal(await row.locator('[data-delete]').count(), 0);
    const gone = await (await fetch(`${env.base}/v2/transcript/${id}`, { headers: { Authorization: env.key } })).json();
    assert.equal(gone.audio_url, 'http://deleted_by_user');
  });

test('the microphone worklet turns 48 kHz float audio into 16 kHz PCM16 in 100 ms messages', async () => {
  const { page } = session;
  const out = await page.evaluate(async () => {
    const ctx = new OfflineAudioContext(1, 48000, 48000); // one second at 48 kHz: the worklet must resample
    await ctx.audioWorklet.addModule('/playground/static/js/pcm-worklet.js');
    const node = new AudioWorkletNode(ctx, 'pcm-sender', { processorOptions: { targetRate: 16000, chunkMs: 100 } });
    const chunks = [];
    node.port.onmessage = (e) => chunks.push(Array.from(new Int16Array(e.data)));
    const tone = ctx.createOscillator();
    tone.frequency.value = 440;
    const gain = ctx.createGain();
    gain.gain.value = 0.5;
    tone.connect(gain).connect(node).connect(ctx.destination);
    tone.start();
    await ctx.startRendering();
    await new Promise((r) => setTimeout(r, 200)); // let the last port messages arrive
    const samples = chunks.flat();
    let crossings = 0;
    for (let i = 1; i < samples.length; i++) if ((samples[i - 1] < 0) !== (samples[i] < 0)) crossings++;
    return { sizes: chunks.map((c) => c.length), crossings, peak: Math.max(...samples.slice(1600)) };
  });
  assert.ok(out.sizes.length >= 9 && out.sizes.length <= 10, `messages: ${out.sizes}`);
  assert.ok(out.sizes.every((n) => n === 1600), 'each message is 100 ms at 16 kHz');
  const seconds = (out.sizes.length * 1600) / 16000;
  const hz = out.crossings / 2 / seconds;
  assert.ok(Math.abs(hz - 440) < 10, `a 440 Hz tone comes out at ${hz} Hz`);
  assert.ok(out.peak > 0.45 * 32767 && out.peak < 0.52 * 32767, `half-scale tone, peak ${out.peak}`);
});

test('no errors in the console, no request to another host', () => {
  assert.deepEqual(session.problems, []);
});
