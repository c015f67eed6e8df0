// Live: the microphone over /v3/ws with a temporary token (docs/compatibility.md#v3-streaming, #tokens). Partials grey, finals replace them.
import { api, getKey } from './api.js';
import { h } from './dom.js';

const RATE = 16000;
const CHUNK_MS = 100;

/** Put one Turn message on the page: one element per turn_order, replaced as the turn grows. */
export function showTurn(list, msg) {
  let el = list.querySelector(`[data-turn="${msg.turn_order}"]`);
  if (!el) {
    el = h('p', { class: 'turn', dataset: { turn: msg.turn_order } });
    list.append(el);
  }
  const counts = list.dataset;
  counts.partials = String(Number(counts.partials || 0) + (msg.end_of_turn ? 0 : 1)); // for tests and curious eyes
  if (el.dataset.formatted === 'true' && !msg.turn_is_formatted) return; // never replace formatted text
  const pending = msg.end_of_turn ? [] : (msg.words || []).filter((w) => !w.word_is_final).map((w) => w.text);
  el.replaceChildren(
    ...[
      msg.speaker_label ? h('span', { class: 'speaker' }, `${msg.speaker_label}: `) : null,
      msg.transcript,
      pending.length ? h('span', { class: 'pending' }, `${msg.transcript ? ' ' : ''}${pending.join(' ')}`) : null,
    ].filter(Boolean),
  );
  el.dataset.final = String(Boolean(msg.end_of_turn));
  el.dataset.formatted = String(Boolean(msg.turn_is_formatted));
  el.classList.toggle('partial', !msg.end_of_turn);
}

export function mount(view) {
  let session = null;
  const state = h('p', { class: 'status', id: 'live-status', role: 'status' }, 'Idle.');
  const turns = h('div', { class: 'turns', id: 'turns' });
  const start = h('button', { type: 'button', id: 'live-start' }, 'Start microphone');
  const stop = h('button', { type: 'button', id: 'live-stop', disabled: true }, 'Stop');
  const formatTurns = h('input', { type: 'checkbox', checked: true, id: 'format-turns' });
  const speakers = h('input', { type: 'checkbox', id: 'live-speakers' });
  const model = h('select', { id: 'live-model' },
    ['universal-streaming-english', 'universal-streaming-multilingual'].map((m) => h('option', { value: m }, m)));

  view.append(
    syncCard(),
    h('section', { class: 'card' },
      h('h1', {}, 'Live transcription'),
      h('p', { class: 'muted' }, 'Streams your microphone as 16 kHz PCM to /v3/ws with a 60-second temporary token. ',
        'Grey text is a partial turn; it is replaced when the turn ends.'),
      h('div', { class: 'options' },
        h('label', {}, 'Model ', model),
        h('label', { class: 'check' }, formatTurns, ' Formatted turns'),
        h('label', { class: 'check' }, speakers, ' Speaker labels')),
      h('div', { class: 'actions' }, start, stop, state),
      turns),
  );

  const finish = (text) => {
    session?.teardown();
    session = null;
    start.disabled = false;
    stop.disabled = true;
    if (text) state.textContent = text;
  };

  start.addEventListener('click', async () => {
    start.disabled = true;
    turns.replaceChildren();
    delete turns.dataset.partials;
    try {
      session = await connect({
        model: model.value,
        formatTurns: formatTurns.checked,
        speakerLabels: speakers.checked,
        onState: (text) => (state.textContent = text),
        onTurn: (msg) => showTurn(turns, msg),
        onEnd: finish,
      });
      stop.disabled = false;
    } catch (err) {
      finish(`Could not start: ${err.message}`);
    }
  });
  stop.addEventListener('click', () => {
    stop.disabled = true;
    session?.terminate();
  });
  return () => finish();
}

async function connect({ model, formatTurns, speakerLabels, onState, onTurn, onEnd }) {
  if (!navigator.mediaDevices?.getUserMedia || !window.AudioWorkletNode) {
    throw new Error('the microphone needs a secure page: open the playground over HTTPS (serve --tls) or from localhost');
  }
  onState('Asking for the microphone…');
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
  });
  let context;
  try {
    context = new AudioContext({ sampleRate: RATE }); // the browser resamples, with a proper filter
  } catch {
    context = new AudioContext(); // the worklet resamples
  }
  const stopAudio = () => {
    stream.getTracks().forEach((t) => t.stop());
    context.close().catch(() => {});
  };
  let source;
  try {
    source = context.createMediaStreamSource(stream);
  } catch {
    await context.close();
    context = new AudioContext();
    source = context.createMediaStreamSource(stream);
  }
  await context.audioWorklet.addModule('/playground/static/js/pcm-worklet.js');
  const node = new AudioWorkletNode(context, 'pcm-sender', {
    processorOptions: { targetRate: RATE, chunkMs: CHUNK_MS },
  });

  onState('Getting a temporary token…');
  let token;
  try {
    ({ token } = await api('/v3/token?expires_in_seconds=60'));
  } catch (err) {
    stopAudio();
    throw err;
  }
  const query = new URLSearchParams({
    sample_rate: String(RATE),
    encoding: 'pcm_s16le',
    format_turns: String(formatTurns),
    speech_model: model,
    token,
  });
  if (speakerLabels) query.set('speaker_labels', 'true');
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${scheme}//${location.host}/v3/ws?${query}`);
  ws.binaryType = 'arraybuffer';
  let terminated = false;
  let stopTimer = 0;

  node.port.onmessage = (e) => ws.readyState === WebSocket.OPEN && !terminated && ws.send(e.data);
  ws.onmessage = (e) => {
    if (typeof e.data !== 'string') return;
    const msg = JSON.parse(e.data);
    if (msg.type === 'Begin') {
      source.connect(node); // audio flows only once the session has begun
      onState(`Listening… (session ${msg.id.slice(0, 8)})`);
    } else if (msg.type === 'Turn') onTurn(msg);
    else if (msg.type === 'Termination') onState(`Ended: ${msg.audio_duration_seconds} s of audio.`);
  };
  ws.onclose = (e) => {
    clearTimeout(stopTimer);
    stopAudio();
    const why = e.code === 1000 ? null : `Closed by the server: ${e.code} ${e.reason || ''}`.trim();
    onEnd(why);
  };
  ws.onerror = () => onState('WebSocket error');

  return {
    terminate() {
      if (terminated) return;
      node.port.postMessage('flush'); // the tail (< 100 ms) goes out just before Terminate
      setTimeout(() => {
        terminated = true;
        source.disconnect();
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'Terminate' }));
        onState('Finishing…');
        stopTimer = setTimeout(() => ws.close(), 5000); // as the SDKs: wait ≤ 5 s for Termination
      }, 50);
    },
    teardown() {
      clearTimeout(stopTimer);
      if (ws.readyState <= WebSocket.OPEN) ws.close();
      stopAudio();
    },
  };
}

/** Record, then one request to the Sync API (docs/compatibility.md#sync-api): the whole clip in, the transcript out. */
function syncCard() {
  const record = h('button', { type: 'button', id: 'sync-record' }, 'Record');
  const stop = h('button', { type: 'button', id: 'sync-stop', disabled: true }, 'Stop and transcribe');
  const state = h('p', { class: 'status', id: 'sync-status', role: 'status' }, 'Idle.');
  const text = h('p', { class: 'turn', id: 'sync-text' });
  let recording = null;

  record.addEventListener('click', async () => {
    record.disabled = true;
    text.textContent = '';
    try {
      if (!navigator.mediaDevices?.getUserMedia || !window.MediaRecorder) {
        throw new Error('the microphone needs a secure page: HTTPS (serve --tls) or localhost');
      }
      const stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1 } });
      const recorder = new MediaRecorder(stream);
      const chunks = [];
      recorder.ondataavailable = (e) => e.data.size && chunks.push(e.data);
      recorder.onstop = () => {
        stream.getTracks().forEach((t) => t.stop());
        transcribe(new Blob(chunks, { type: recorder.mimeType || 'audio/webm' }));
      };
      recorder.start();
      recording = recorder;
      state.textContent = 'Recording…';
      stop.disabled = false;
    } catch (err) {
      state.textContent = `Could not record: ${err.message}`;
      record.disabled = false;
    }
  });
  stop.addEventListener('click', () => {
    stop.disabled = true;
    recording?.stop();
    recording = null;
  });

  async function transcribe(blob) {
    state.textContent = 'Transcribing…';
    const form = new FormData();
    form.append('config', new Blob([JSON.stringify({ timestamps: true })], { type: 'application/json' }));
    form.append('audio', blob, 'recording.webm'); // not WAV: the server decodes it whole with ffmpeg
    const started = performance.now();
    try {
      const response = await fetch('/v1/transcribe', {
        method: 'POST',
        headers: { Authorization: getKey() || '', 'X-AAI-Model': 'universal-3-5-pro' },
        body: form,
      });
      const body = await response.json();
      if (!response.ok) throw new Error(`${body.title}: ${body.detail}`);
      text.textContent = body.text || '(no words)';
      const ms = Math.round(performance.now() - started);
      state.textContent = `${body.audio_duration_ms} ms of audio, answered in ${ms} ms.`;
    } catch (err) {
      state.textContent = `Failed: ${err.message}`;
    } finally {
      record.disabled = false;
    }
  }

  return h('section', { class: 'card' },
    h('h1', {}, 'Record and transcribe'),
    h('p', { class: 'muted' }, 'Records your microphone, then sends the clip in one request to the Sync API ',
      '(POST /v1/transcribe, as Pipecat does) and shows the transcript.'),
    h('div', { class: 'actions' }, record, stop, state),
    text);
}
