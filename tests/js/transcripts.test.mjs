// The pre-recorded API through the unchanged JS SDK over HTTPS: upload + poll, get, list, exports,
// word search, delete. One transcript of jfk.flac is made once and read by every test below.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { before, describe, test } from "node:test";
import { AUDIO, MAX_WER, MOCK, REFERENCE, makeClient, normalize, wordErrorRate } from "./env.mjs";

const client = makeClient();
const polling = { pollingInterval: 200, pollingTimeout: 120_000 };

describe("transcripts over https", { timeout: 180_000 }, () => {
  let transcript;
  let second;

  before(async () => {
    transcript = await client.transcripts.transcribe({ audio: AUDIO }, polling);
  });

  test("transcribe(): uploads the local file, polls, and returns the reference words", () => {
    assert.equal(transcript.status, "completed", `transcript error: ${transcript.error}`);
    assert.equal(transcript.error ?? null, null);
    assert.match(transcript.audio_url, /^https:\/\/127\.0\.0\.1:\d+\//, "upload_url on the server's own origin");
    assert.ok(Number.isInteger(transcript.audio_duration), `audio_duration ${transcript.audio_duration}`);
    assert.equal(transcript.audio_duration, 11);
    const wer = wordErrorRate(REFERENCE, transcript.text);
    assert.ok(wer <= MAX_WER, `WER ${wer.toFixed(3)} for ${JSON.stringify(transcript.text)}`);
    if (MOCK) assert.equal(transcript.text, REFERENCE);
    assert.deepEqual(
      normalize(transcript.words.map((w) => w.text).join(" ")),
      normalize(transcript.text),
      "words[] spell the text",
    );
    let last = 0;
    for (const w of transcript.words) {
      assert.ok(Number.isInteger(w.start) && Number.isInteger(w.end), JSON.stringify(w));
      assert.ok(w.start >= last && w.end >= w.start && w.end <= 11_100, JSON.stringify(w));
      assert.ok(w.confidence > 0 && w.confidence <= 1, JSON.stringify(w));
      last = w.start;
    }
  });

  test("get(): the same transcript by id", async () => {
    const again = await client.transcripts.get(transcript.id);
    assert.equal(again.id, transcript.id);
    assert.equal(again.status, "completed");
    assert.equal(again.text, transcript.text);
    assert.equal(again.words.length, transcript.words.length);
  });

  test("list(): newest first, with Date fields and absolute page URLs", async () => {
    const page = await client.transcripts.list({ limit: 5 });
    assert.ok(page.transcripts.length >= 1 && page.transcripts.length <= 5);
    const item = page.transcripts.find((t) => t.id === transcript.id);
    assert.ok(item, `transcript ${transcript.id} not listed`);
    assert.equal(item.status, "completed");
    assert.ok(item.created instanceof Date && !Number.isNaN(item.created.getTime()), String(item.created));
    assert.ok(item.completed instanceof Date && item.completed >= item.created, String(item.completed));
    assert.match(item.resource_url, new RegExp(`^https://127\\.0\\.0\\.1:\\d+/v2/transcript/${item.id}$`));
    assert.equal(page.page_details.limit, 5);
    assert.equal(page.page_details.result_count, page.transcripts.length);
    assert.match(page.page_details.current_url, /^https:\/\//);
    // the SDK fetches a page URL as given: it must lead back to this server
    const same = await client.transcripts.list(page.page_details.current_url);
    assert.deepEqual(
      same.transcripts.map((t) => t.id),
      page.transcripts.map((t) => t.id),
    );
  });

  test("subtitles(): SRT and VTT cues carry the words", async () => {
    const srt = await client.transcripts.subtitles(transcript.id, "srt");
    assert.match(srt, /^1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n\S/);
    const srtText = srt
      .split("\n")
      .filter((l) => l && !/^\d+$/.test(l) && !l.includes("-->"))
      .join(" ");
    assert.deepEqual(normalize(srtText), normalize(transcript.text));

    const vtt = await client.transcripts.subtitles(transcript.id, "vtt");
    assert.match(vtt, /^WEBVTT\n\n(\d\d:)?\d\d:\d\d\.\d{3} --> (\d\d:)?\d\d:\d\d\.\d{3}\n\S/);
    const vttText = vtt
      .split("\n")
      .slice(1)
      .filter((l) => l && !l.includes("-->"))
      .join(" ");
    assert.deepEqual(normalize(vttText), normalize(transcript.text));

    const narrow = await client.transcripts.subtitles(transcript.id, "srt", 32);
    const lines = narrow.split("\n").filter((l) => l && !/^\d+$/.test(l) && !l.includes("-->"));
    assert.ok(lines.length > srtText.length / 40, `chars_per_caption=32 made ${lines.length} caption lines`);
    for (const line of lines) {
      assert.ok(line.length <= 32 || !line.includes(" "), `caption longer than 32 chars: ${line}`);
    }
  });

  test("sentences() and paragraphs(): cover every word in order", async () => {
    const s = await client.transcripts.sentences(transcript.id);
    assert.equal(s.id, transcript.id);
    assert.equal(typeof s.confidence, "number");
    assert.equal(typeof s.audio_duration, "number");
    assert.ok(s.sentences.length >= 1);
    for (const sentence of s.sentences) {
      assert.ok(sentence.words.length >= 1 && sentence.start <= sentence.end, JSON.stringify(sentence));
      assert.ok("speaker" in sentence, "speaker is a required key (null without speaker_labels)");
    }
    assert.deepEqual(normalize(s.sentences.map((x) => x.text).join(" ")), normalize(transcript.text));

    const p = await client.transcripts.paragraphs(transcript.id);
    assert.equal(p.id, transcript.id);
    assert.ok(p.paragraphs.length >= 1);
    assert.deepEqual(normalize(p.paragraphs.map((x) => x.text).join(" ")), normalize(transcript.text));
    assert.equal(
      p.paragraphs.reduce((n, x) => n + x.words.length, 0),
      transcript.words.length,
    );
  });

  test("wordSearch(): counts, timestamps and indexes into words[]", async () => {
    const found = await client.transcripts.wordSearch(transcript.id, ["country", "fellow americans"]);
    assert.equal(found.id, transcript.id);
    const byText = Object.fromEntries(found.matches.map((m) => [m.text, m]));
    const words = transcript.words.map((w) => normalize(w.text).join(" "));
    const expected = words.filter((w) => w === "country").length;
    assert.ok(expected >= 1, "the transcript says 'country'");
    assert.equal(byText.country.count, expected);
    for (const [i, index] of byText.country.indexes.entries()) {
      assert.equal(words[index], "country");
      assert.deepEqual(byText.country.timestamps[i], [transcript.words[index].start, transcript.words[index].end]);
    }
    assert.equal(byText["fellow americans"].count, 1);
    assert.equal(words[byText["fellow americans"].indexes[0]], "fellow");
    assert.equal(found.total_count, found.matches.reduce((n, m) => n + m.count, 0));
  });

  test("files.upload(Buffer), create() without polling, waitUntilReady(), list pages", async () => {
    const uploadUrl = await client.files.upload(readFileSync(AUDIO));
    assert.match(uploadUrl, /^https:\/\/127\.0\.0\.1:\d+\//);
    const queued = await client.transcripts.create({ audio_url: uploadUrl, punctuate: false }, { poll: false });
    assert.equal(queued.status, "queued");
    assert.equal(queued.punctuate, false);
    second = await client.transcripts.waitUntilReady(queued.id, polling);
    assert.equal(second.status, "completed", `transcript error: ${second.error}`);
    assert.doesNotMatch(second.text, /[.,]/, "punctuate=false");
    assert.ok(wordErrorRate(REFERENCE, second.text) <= MAX_WER, second.text);

    const newest = await client.transcripts.list({ limit: 1 });
    assert.deepEqual(newest.transcripts.map((t) => t.id), [second.id]);
    assert.ok(newest.page_details.prev_url, "an older transcript exists");
    const older = await client.transcripts.list(newest.page_details.prev_url);
    assert.deepEqual(older.transcripts.map((t) => t.id), [transcript.id]);
  });

  test("delete(): the deleted form, and the transcript stays deleted", async () => {
    const mine = second ?? (await client.transcripts.transcribe({ audio: AUDIO }, polling));
    assert.equal(mine.status, "completed");
    const gone = await client.transcripts.delete(mine.id);
    assert.equal(gone.id, mine.id);
    assert.equal(gone.status, "completed");
    assert.equal(gone.text, "Deleted by user.");
    assert.equal(gone.audio_url, "http://deleted_by_user");
    assert.equal(gone.words, null);
    const later = await client.transcripts.get(mine.id);
    assert.equal(later.text, "Deleted by user.");
  });
});

describe("errors are thrown with the API's message", { timeout: 60_000 }, () => {
  test("a wrong API key", async () => {
    const stranger = makeClient("not-a-key");
    await assert.rejects(stranger.transcripts.list(), {
      message: "Authentication error, API token missing/invalid",
    });
    await assert.rejects(stranger.files.upload(AUDIO), {
      message: "Authentication error, API token missing/invalid",
    });
  });

  test("an unknown transcript id", async () => {
    const id = randomUUID();
    for (const call of [
      () => client.transcripts.get(id),
      () => client.transcripts.sentences(id),
      () => client.transcripts.subtitles(id, "srt"),
      () => client.transcripts.wordSearch(id, ["x"]),
      () => client.transcripts.delete(id),
    ]) {
      await assert.rejects(call(), { message: "Transcript lookup error, transcript id not found" });
    }
  });

  test("a request the API refuses", async () => {
    await assert.rejects(client.transcripts.submit({ audio_url: "ftp://example.com/a.mp3" }), {
      message: "Transcript creation error, audio_url should start with http",
    });
  });
});
