// Real-time transcription through the unchanged JS SDK, which only speaks wss:// (docs/compatibility.md#clients):
// v3 Universal-Streaming (`client.streaming`) and legacy v2 (`client.realtime`), each with a temporary token
// (sent as `?token=`), jfk.flac as 16 kHz pcm_s16le sent in 100 ms chunks at real-time pace.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";
import {
  MAX_WER,
  MOCK,
  PCM,
  REFERENCE,
  TERMINATION_TIMEOUT_MS,
  WSS_URL,
  makeClient,
  normalize,
  wordErrorRate,
} from "./env.mjs";

const SAMPLE_RATE = 16_000;
const CHUNK_BYTES = (SAMPLE_RATE * 2) / 10; // 100 ms
const client = makeClient();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Chunks of 100 ms; a tail under 50 ms joins the chunk before it (the server wants 50..1000 ms). */
function chunks(pcm) {
  const out = [];
  for (let off = 0; off < pcm.length; off += CHUNK_BYTES) out.push(pcm.subarray(off, off + CHUNK_BYTES));
  if (out.length > 1 && out.at(-1).length < CHUNK_BYTES / 2) {
    const tail = out.pop();
    out.push(Buffer.concat([out.pop(), tail]));
  }
  return out;
}

/** Send `pcm` then `silenceMs` of silence, each chunk when its audio would have been spoken. */
async function sendAtRealTimePace(send, pcm, silenceMs = 1500) {
  const audio = Buffer.concat([pcm, Buffer.alloc((SAMPLE_RATE * 2 * silenceMs) / 1000)]);
  const started = performance.now();
  let sentMs = 0;
  for (const chunk of chunks(audio)) {
    send(chunk);
    sentMs += (chunk.length / 2 / SAMPLE_RATE) * 1000;
    const wait = started + sentMs - performance.now();
    if (wait > 0) await sleep(wait);
  }
  return performance.now() - started;
}

/** The final texts of a session against the reference. The mock engine reads the reference off the
 * session's timeline at 2.5 words/s, so each final is a run of consecutive reference words. */
function assertSaysReference(finals) {
  assert.ok(finals.length >= 1, "no final transcript");
  if (MOCK) {
    const cycled = ` ${REFERENCE} ${REFERENCE} `;
    for (const final of finals) assert.ok(cycled.includes(` ${final} `), `${final} is not a run of the reference`);
    return;
  }
  const text = finals.join(" ");
  const wer = wordErrorRate(REFERENCE, text);
  assert.ok(wer <= MAX_WER, `WER ${wer.toFixed(3)} for ${JSON.stringify(text)}`);
}

function loadPcm() {
  assert.ok(PCM, "LOCALSCRIBE_PCM (raw 16 kHz pcm_s16le of jfk.flac) is not set");
  const pcm = readFileSync(PCM);
  assert.ok(pcm.length > SAMPLE_RATE * 2 * 10, `${PCM} holds ${pcm.length} bytes, expected ~11 s of audio`);
  return pcm;
}

describe("v3 streaming over wss", { timeout: 120_000 }, () => {
  test("temporary token, real-time audio, turns that say the reference", async (ctx) => {
    const pcm = loadPcm();
    const token = await client.streaming.createTemporaryToken({ expires_in_seconds: 60 });
    assert.equal(typeof token, "string");
    assert.ok(token.length >= 16, `token ${token}`);

    const rt = client.streaming.transcriber({
      token,
      sampleRate: SAMPLE_RATE,
      websocketBaseUrl: `${WSS_URL}/v3/ws`,
      formatTurns: true,
      connectTimeout: 10_000,
    });
    const turns = [];
    const errors = [];
    const frames = [];
    rt.on("turn", (turn) => turns.push(turn));
    rt.on("error", (error) => errors.push(error));

    const begin = await rt.connect();
    assert.equal(begin.type, "Begin");
    assert.match(begin.id, UUID);
    assert.ok(Number.isInteger(begin.expires_at), `expires_at ${begin.expires_at}`);
    assert.ok(begin.expires_at > Date.now() / 1000, "expires_at lies in the future");
    // the SDK exposes no Termination event: read the frames off its socket to check that one
    rt.socket.on("message", (data, isBinary) => {
      if (!isBinary) frames.push(JSON.parse(data.toString()));
    });

    const tookMs = await sendAtRealTimePace((chunk) => rt.sendAudio(chunk), pcm);
    assert.ok(tookMs >= 12_000, `sent 12.5 s of audio in ${tookMs} ms`);
    const closing = performance.now();
    await rt.close(true, TERMINATION_TIMEOUT_MS); // {"type":"Terminate"}, then waits for Termination
    const closeMs = performance.now() - closing;

    assert.deepEqual(errors, []);
    const termination = frames.find((f) => f.type === "Termination");
    assert.ok(termination, `no Termination frame within ${closeMs} ms`);
    assert.ok(Number.isInteger(termination.audio_duration_seconds), JSON.stringify(termination));
    assert.ok(Number.isInteger(termination.session_duration_seconds), JSON.stringify(termination));
    assert.ok(termination.audio_duration_seconds >= 12, JSON.stringify(termination));

    assert.ok(turns.length >= 2, `only ${turns.length} Turn messages`);
    for (const turn of turns) {
      assert.equal(turn.type, "Turn");
      assert.ok(Number.isInteger(turn.turn_order) && turn.turn_order >= 0, JSON.stringify(turn));
      assert.equal(typeof turn.end_of_turn, "boolean");
      assert.equal(typeof turn.turn_is_formatted, "boolean");
      assert.equal(typeof turn.transcript, "string");
      assert.ok(turn.end_of_turn_confidence >= 0 && turn.end_of_turn_confidence <= 1, JSON.stringify(turn));
      for (const w of turn.words) {
        assert.deepEqual(Object.keys(w).sort(), ["confidence", "end", "start", "text", "word_is_final"]);
        assert.ok(Number.isInteger(w.start) && Number.isInteger(w.end) && w.start <= w.end, JSON.stringify(w));
      }
    }
    const orders = [...new Set(turns.map((t) => t.turn_order))];
    assert.deepEqual(orders, orders.map((_, i) => i), "turn_order counts 0, 1, 2, … in order");
    // format_turns=true: each turn ends twice, unformatted then formatted, with the same turn_order
    const ends = turns.filter((t) => t.end_of_turn);
    const formatted = ends.filter((t) => t.turn_is_formatted);
    assert.deepEqual(
      formatted.map((t) => t.turn_order),
      orders,
      "every turn ends with one formatted end-of-turn message",
    );
    for (const f of formatted) {
      const raw = ends.find((t) => t.turn_order === f.turn_order && !t.turn_is_formatted);
      assert.ok(raw, `turn ${f.turn_order}: no unformatted end-of-turn message before the formatted one`);
      assert.ok(turns.indexOf(raw) < turns.indexOf(f));
      assert.deepEqual(normalize(raw.transcript), normalize(f.transcript));
    }
    const text = formatted.map((t) => t.transcript).join(" ");
    ctx.diagnostic(`${turns.length} Turn messages, Termination ${Math.round(closeMs)} ms after Terminate: ${text}`);
    assertSaysReference(formatted.map((t) => t.transcript));
    if (!MOCK) {
      assert.ok(
        turns.some((t) => !t.end_of_turn && t.words.length > 0),
        "partial turns arrive while the audio is still being spoken",
      );
    }
  });

  test("a temporary token opens one session only", async () => {
    const token = await client.streaming.createTemporaryToken({ expires_in_seconds: 60 });
    const params = { token, sampleRate: SAMPLE_RATE, websocketBaseUrl: `${WSS_URL}/v3/ws`, connectTimeout: 10_000 };
    const first = client.streaming.transcriber(params);
    await first.connect();
    await first.close();
    const second = client.streaming.transcriber({ ...params, maxConnectionRetries: 0 });
    await assert.rejects(second.connect(), (err) => {
      assert.equal(err.code, 1008, `${err.code} ${err.message}`);
      assert.match(err.message, /^Unauthorized Connection: /);
      return true;
    });
  });

  test("the API key in the Authorization header works too", async () => {
    const rt = client.streaming.transcriber({
      sampleRate: SAMPLE_RATE,
      websocketBaseUrl: `${WSS_URL}/v3/ws`,
      connectTimeout: 10_000,
    });
    const begin = await rt.connect();
    assert.match(begin.id, UUID);
    await rt.close();
  });

  test("a token needs a valid API key", async () => {
    await assert.rejects(makeClient("not-a-key").streaming.createTemporaryToken({ expires_in_seconds: 60 }), {
      message: "Authentication error, API token missing/invalid",
    });
  });
});

describe("v2 real-time over wss", { timeout: 120_000 }, () => {
  test("temporary token, real-time audio, final transcripts that say the reference", async (ctx) => {
    const pcm = loadPcm();
    const token = await client.realtime.createTemporaryToken({ expires_in: 60 });
    assert.equal(typeof token, "string");

    const rt = client.realtime.transcriber({
      token,
      sampleRate: SAMPLE_RATE,
      realtimeUrl: `${WSS_URL}/v2/realtime/ws`,
    });
    const partials = [];
    const finals = [];
    const errors = [];
    const info = [];
    rt.on("transcript.partial", (t) => partials.push(t));
    rt.on("transcript.final", (t) => finals.push(t));
    rt.on("session_information", (i) => info.push(i));
    rt.on("error", (error) => errors.push(error));

    const begins = await rt.connect();
    assert.match(begins.sessionId, UUID);
    assert.ok(begins.expiresAt instanceof Date && begins.expiresAt > new Date(), String(begins.expiresAt));

    await sendAtRealTimePace((chunk) => rt.sendAudio(chunk), pcm);
    const closing = performance.now();
    await rt.close(true, TERMINATION_TIMEOUT_MS); // {"terminate_session":true}, waits for SessionTerminated
    const closeMs = performance.now() - closing;

    assert.deepEqual(errors, []);
    assert.ok(finals.length >= 1, "no FinalTranscript");
    for (const m of [...partials, ...finals]) {
      assert.ok(m.created instanceof Date && !Number.isNaN(m.created.getTime()), String(m.created));
      assert.ok(Number.isInteger(m.audio_start) && Number.isInteger(m.audio_end), JSON.stringify(m));
      for (const w of m.words) assert.ok(Number.isInteger(w.start) && Number.isInteger(w.end), JSON.stringify(w));
    }
    for (const m of finals) {
      assert.equal(m.message_type, "FinalTranscript");
      assert.equal(typeof m.punctuated, "boolean");
      assert.equal(typeof m.text_formatted, "boolean");
    }
    const text = finals.map((f) => f.text).join(" ");
    ctx.diagnostic(`${partials.length} partial, ${finals.length} final, closed in ${Math.round(closeMs)} ms: ${text}`);
    assertSaysReference(finals.map((f) => f.text));
    assert.equal(info.length, 1, "enable_extra_session_information=true: one SessionInformation");
    assert.ok(info[0].audio_duration_seconds >= 12, JSON.stringify(info[0]));
  });
});
