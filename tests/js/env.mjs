// What every test file here needs: the server, the key, the audio and its reference text, and small
// text helpers. All of it comes from the environment that tests/test_js_sdk.py sets up:
//   LOCALSCRIBE_URL      https://127.0.0.1:PORT (a `localscribe serve --tls` server)
//   LOCALSCRIBE_KEY      an API key of a Paid account on it
//   NODE_EXTRA_CA_CERTS  the server's CA (DATA_DIR/tls/ca.pem); read by Node itself at start-up
//   LOCALSCRIBE_AUDIO    jfk.flac (default: ../data/jfk.flac)
//   LOCALSCRIBE_PCM      the same audio as raw 16 kHz mono pcm_s16le, for streaming
//   LOCALSCRIBE_MOCK     "1" when the server runs the mock engine with the reference as its text
//   LOCALSCRIBE_TERMINATION_TIMEOUT_MS  how long close() waits for the end of a stream (the SDK's 5000 ms
//                        default unless set: a real model on a small, busy CPU may need longer to finish)
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { AssemblyAI } from "assemblyai";

const here = dirname(fileURLToPath(import.meta.url));
const audioDir = resolve(here, "..", "data");

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run these tests through tests/test_js_sdk.py)`);
  return value;
}

export const BASE_URL = required("LOCALSCRIBE_URL").replace(/\/$/, "");
export const API_KEY = required("LOCALSCRIBE_KEY");
export const WSS_URL = BASE_URL.replace(/^https:/, "wss:");
export const AUDIO = process.env.LOCALSCRIBE_AUDIO || join(audioDir, "jfk.flac");
export const PCM = process.env.LOCALSCRIBE_PCM || "";
export const MOCK = process.env.LOCALSCRIBE_MOCK === "1";
export const TERMINATION_TIMEOUT_MS = Number(process.env.LOCALSCRIBE_TERMINATION_TIMEOUT_MS || 5000);

/** The reference transcript of jfk.flac, from the audio manifest (never a copy). */
export const REFERENCE = (() => {
  const manifest = JSON.parse(readFileSync(join(dirname(AUDIO), "manifest.json"), "utf8"));
  const entry = manifest.find((e) => e.file === "jfk.flac");
  if (!entry) throw new Error("jfk.flac is not in the audio manifest");
  return entry.reference;
})();

/** A client exactly as a user would configure one for a self-hosted server. */
export function makeClient(apiKey = API_KEY) {
  return new AssemblyAI({ apiKey, baseUrl: BASE_URL, streamingBaseUrl: BASE_URL });
}

/** Lower-case words without punctuation: what "the same words" means across engines. */
export function normalize(text) {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}' ]+/gu, " ")
    .split(/\s+/)
    .filter(Boolean);
}

/** Word error rate of `hypothesis` against `reference` (both strings). */
export function wordErrorRate(reference, hypothesis) {
  const r = normalize(reference);
  const h = normalize(hypothesis);
  let prev = Array.from({ length: h.length + 1 }, (_, j) => j);
  for (let i = 1; i <= r.length; i++) {
    const row = [i];
    for (let j = 1; j <= h.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (r[i - 1] === h[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[h.length] / Math.max(1, r.length);
}

/** Exact words from the mock engine; a real model may miss a word or so on this clip. */
export const MAX_WER = MOCK ? 0 : 0.1;
