// One transcript: watch it move queued → processing → completed, then play it with the words in step.
import { api, saveBlob } from './api.js';
import { clock, h, seconds } from './dom.js';
import { localFiles, submittedAt } from './state.js';

const STEPS = ['queued', 'processing', 'completed'];
const PII_TOKEN = /#{2,}|^#$|\[[A-Z][A-Z0-9_]*\]/;

/** Index of the last word that starts at or before `ms` (words sorted by start), or -1. */
export function wordAt(words, ms) {
  let lo = 0;
  let hi = words.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (words[mid].start <= ms) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

const within = (word, span, slack = 20) => word.start >= span.start - slack && word.end <= span.end + slack;

/** Speakers or channels apart: one block per utterance, or one block of all words. */
function blocks(t) {
  if (t.utterances?.length) {
    return t.utterances.map((u) => ({
      label: t.multichannel ? `Channel ${u.channel ?? u.speaker}` : `Speaker ${u.speaker}`,
      key: String(t.multichannel ? u.channel ?? u.speaker : u.speaker),
      start: u.start,
      words: u.words || [],
    }));
  }
  return [{ label: null, key: '', start: 0, words: t.words || [] }];
}

function marksFor(t) {
  const highlights = (t.auto_highlights_result?.results || []).flatMap((r) =>
    r.timestamps.map((ts) => ({ ...ts, text: r.text })),
  );
  const entities = t.entities || [];
  return (word) => {
    const classes = ['w'];
    const notes = [];
    if (PII_TOKEN.test(word.text)) {
      classes.push('pii');
      notes.push('redacted PII');
    }
    const entity = entities.find((e) => within(word, e));
    if (entity) {
      classes.push('ent');
      notes.push(`entity: ${entity.entity_type}`);
    }
    if (highlights.some((s) => within(word, s))) {
      classes.push('hl');
      notes.push('key phrase');
    }
    return { className: classes.join(' '), title: notes.join(', ') };
  };
}

function timeline(t, job) {
  const at = STEPS.indexOf(t.status);
  return h(
    'ol',
    { class: 'steps', id: 'steps', dataset: { status: t.status } },
    STEPS.map((s, i) => h('li', { class: t.status === 'error' ? 'error' : i < at ? 'done' : i === at ? 'now' : '' }, s)),
    t.status === 'error' ? h('li', { class: 'error now' }, 'error') : null,
    job?.progress != null && t.status === 'processing' ? h('li', { class: 'progress' }, h('progress', { max: 1, value: job.progress })) : null,
  );
}

function waitingNote(t, job, account) {
  if (t.status === 'queued' && t.throttled) {
    const ahead = job?.ahead ?? 0;
    const limit = account ? ` (limit: ${account.async.limit} processing at once, ${account.async.processing} now)` : '';
    return h('p', { class: 'throttled', id: 'queue-position' },
      `Throttled: position ${ahead + 1} in this account's queue, ${ahead} job${ahead === 1 ? '' : 's'} ahead${limit}.`);
  }
  if (t.status === 'queued') return h('p', {}, 'Queued: waiting for a worker.');
  if (t.status === 'processing') return h('p', {}, 'Processing…');
  return null;
}

async function audioSource(t) {
  const file = localFiles.get(t.id);
  if (file) return { src: URL.createObjectURL(file), revoke: true, note: file.name };
  if (!/\/v2\/upload\/[0-9a-f-]{36}$/.test(t.audio_url)) return { src: t.audio_url, revoke: false, note: t.audio_url };
  try {
    const blob = await (await api(`/playground/api/audio/${t.id}`, { raw: true })).blob();
    return { src: URL.createObjectURL(blob), revoke: true, note: 'uploaded audio' };
  } catch {
    return { src: null, note: 'the uploaded audio is no longer on the server' };
  }
}

function downloads(t) {
  const save = (kind) => async () => {
    if (kind === 'json') return saveBlob(new Blob([JSON.stringify(t, null, 2)], { type: 'application/json' }), `${t.id}.json`);
    if (kind === 'txt') return saveBlob(new Blob([t.text || ''], { type: 'text/plain' }), `${t.id}.txt`);
    const blob = await (await api(`/v2/transcript/${t.id}/${kind}`, { raw: true })).blob();
    saveBlob(blob, `${t.id}.${kind}`);
  };
  return h(
    'div',
    { class: 'downloads' },
    'Download ',
    ['srt', 'vtt', 'txt', 'json'].map((k) => h('button', { type: 'button', class: 'small', dataset: { download: k }, onclick: save(k) }, k.toUpperCase())),
  );
}

function sidePanel(t, seek) {
  const parts = [];
  const facts = [
    ['Duration', t.audio_duration != null ? seconds(t.audio_duration, 0) : null],
    ['Language', t.language_code ? `${t.language_code}${t.language_confidence != null ? ` (${Math.round(t.language_confidence * 100)} %)` : ''}` : null],
    ['Model', t.speech_model_used],
    ['Confidence', t.confidence != null ? `${Math.round(t.confidence * 100)} %` : null],
    ['Words', t.words?.length],
  ].filter(([, v]) => v != null);
  parts.push(h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
  const results = t.auto_highlights_result?.results || [];
  if (results.length) {
    parts.push(h('h3', {}, 'Key phrases'), h('ul', { class: 'chips', id: 'highlights' },
      results.map((r) => h('li', {}, h('button', { type: 'button', class: 'chip hl', onclick: () => seek(r.timestamps[0].start) }, `${r.text} ×${r.count}`)))));
  }
  if (t.entities?.length) {
    parts.push(h('h3', {}, 'Entities'), h('ul', { class: 'chips', id: 'entities' },
      t.entities.map((e) => h('li', {}, h('button', { type: 'button', class: 'chip ent', title: e.entity_type, onclick: () => seek(e.start) }, `${e.text} · ${e.entity_type.replaceAll('_', ' ')}`)))));
  }
  if (t.sentiment_analysis_results?.length) {
    const counts = {};
    for (const s of t.sentiment_analysis_results) counts[s.sentiment] = (counts[s.sentiment] || 0) + 1;
    parts.push(h('h3', {}, 'Sentiment'), h('p', {}, Object.entries(counts).map(([k, n]) => `${k.toLowerCase()} ${n}`).join(' · ')));
  }
  if (typeof t.summary === 'string' && t.summary) parts.push(h('h3', {}, 'Summary'), h('p', {}, t.summary));
  if (t.redact_pii) parts.push(h('p', { class: 'legend' }, h('span', { class: 'w pii' }, '####'), ' redacted PII'));
  return h('aside', { class: 'side' }, parts);
}

function renderResult(view, t, started, cleanup) {
  const audio = h('audio', { controls: true, preload: 'auto', id: 'player' });
  const sourceNote = h('p', { class: 'muted small' });
  const byTrack = new Map(); // words per channel (multichannel) or all together: one current word per track
  const mark = marksFor(t);
  const speakers = new Map();
  const transcript = h('div', { class: 'transcript', id: 'transcript' });
  const columns = new Map(); // multichannel: one column per channel, side by side, since channels overlap in time
  const placeFor = (block) => {
    if (!t.multichannel) return transcript;
    if (!columns.has(block.key)) {
      const column = h('div', { class: 'channel', dataset: { channel: block.key } }, h('h3', {}, block.label));
      columns.set(block.key, column);
      transcript.classList.add('channels');
      transcript.append(column);
    }
    return columns.get(block.key);
  };
  for (const block of blocks(t)) {
    if (!speakers.has(block.key)) speakers.set(block.key, speakers.size % 6);
    const body = h('p', { class: 'words' });
    for (const word of block.words) {
      const { className, title } = mark(word);
      const el = h('span', { class: className, title: title || null, dataset: { start: word.start, end: word.end } }, word.text);
      const track = t.multichannel ? block.key : '';
      if (!byTrack.has(track)) byTrack.set(track, []);
      byTrack.get(track).push({ start: word.start, end: word.end, el });
      body.append(el, ' ');
    }
    const label = t.multichannel ? null : block.label; // a channel's name heads its column instead
    placeFor(block).append(
      h('div', { class: `block s${speakers.get(block.key)}` },
        label ? h('div', { class: 'speaker' }, label, h('span', { class: 'muted' }, ` ${clock(block.start)}`)) : null,
        t.multichannel ? h('div', { class: 'muted small' }, clock(block.start)) : null,
        body),
    );
  }
  const tracks = [...byTrack.values()].map((words) => ({ words: words.sort((a, b) => a.start - b.start), current: -1 }));
  const wordCount = tracks.reduce((n, tr) => n + tr.words.length, 0);
  if (!wordCount) transcript.append(h('p', { class: 'muted' }, t.text || 'No speech was found in this audio.'));
  for (const tr of tracks) tr.words.forEach((w, i) => (w.el.dataset.i = i));

  let frame = 0;
  const sync = () => {
    const ms = audio.currentTime * 1000;
    tracks.forEach((tr, n) => {
      const i = wordAt(tr.words, ms);
      if (i === tr.current) return;
      tr.words[tr.current]?.el.classList.remove('now');
      tr.current = i;
      if (n === 0) transcript.dataset.currentWord = String(i);
      if (i >= 0) {
        tr.words[i].el.classList.add('now');
        if (!audio.paused) tr.words[i].el.scrollIntoView({ block: 'nearest' });
      }
    });
  };
  const loop = () => {
    sync();
    frame = audio.paused ? 0 : requestAnimationFrame(loop);
  };
  audio.addEventListener('play', () => (frame ||= requestAnimationFrame(loop)));
  audio.addEventListener('seeked', sync);
  audio.addEventListener('timeupdate', sync);
  const seek = (ms) => {
    audio.currentTime = ms / 1000;
    sync();
    audio.play().catch(() => {});
  };
  transcript.addEventListener('click', (e) => {
    const el = e.target.closest('.w');
    if (el) seek(Number(el.dataset.start));
  });

  view.append(
    h('div', { class: 'result' },
      h('div', { class: 'player card' }, audio, sourceNote, downloads(t)),
      h('div', { class: 'card' }, transcript),
      sidePanel(t, seek)),
  );
  if (started !== undefined && wordCount) {
    const ms = Math.round(performance.now() - started);
    view.dataset.firstWordMs = String(ms);
    view.querySelector('#first-word').textContent = `First words shown ${(ms / 1000).toFixed(2)} s after “Transcribe”.`;
  }
  audioSource(t).then(({ src, revoke, note }) => {
    sourceNote.textContent = note ? `Audio: ${note}` : '';
    if (!src) return;
    audio.src = src;
    if (revoke) cleanup.push(() => URL.revokeObjectURL(src));
  });
  cleanup.push(() => cancelAnimationFrame(frame), () => audio.pause());
}

export function mount(view, { id }, { refreshLimits }) {
  const cleanup = [];
  let stopped = false;
  const header = h('div', { class: 'card job' });
  view.append(header);

  const draw = (t, job, account) => {
    header.replaceChildren(
      ...[
        h('h1', {}, 'Transcript ', h('code', {}, t.id)),
        timeline(t, job),
        waitingNote(t, job, account),
        t.status === 'error' ? h('p', { class: 'error', role: 'alert' }, t.error) : null,
        h('p', { class: 'muted small', id: 'first-word' }),
      ].filter(Boolean), // replaceChildren would write null as text
    );
  };

  (async () => {
    let polls = 0;
    while (!stopped) {
      let t;
      try {
        t = await api(`/v2/transcript/${id}`);
      } catch (err) {
        header.replaceChildren(h('h1', {}, 'Transcript'), h('p', { class: 'error', role: 'alert' }, err.message));
        return;
      }
      if (stopped) return;
      if (t.status === 'completed' || t.status === 'error') {
        draw(t);
        if (t.status === 'completed') renderResult(view, t, submittedAt.get(id), cleanup);
        submittedAt.delete(id);
        refreshLimits();
        return;
      }
      const [jobs, account] = await Promise.all([
        api(`/playground/api/jobs?ids=${id}`).catch(() => null),
        t.throttled ? refreshLimits() : null,
      ]);
      if (stopped) return;
      draw(t, jobs?.jobs?.[0], account);
      polls += 1;
      await new Promise((r) => setTimeout(r, Math.min(1000, 150 + 50 * polls)));
    }
  })();

  return () => {
    stopped = true;
    for (const fn of cleanup) fn();
  };
}
