// Upload a file or give a URL, choose options, create the transcript, then show it (result.js).
import { api, upload } from './api.js';
import { h } from './dom.js';
import { localFiles, submittedAt } from './state.js';

const LANGUAGES = [
  ['', 'Server default (en_us)'],
  ['detect', 'Detect automatically'],
  ['en', 'English (global)'],
  ['en_us', 'English (US)'],
  ['en_uk', 'English (UK)'],
  ['es', 'Spanish'],
  ['fr', 'French'],
  ['de', 'German'],
  ['it', 'Italian'],
  ['pt', 'Portuguese'],
  ['nl', 'Dutch'],
  ['ru', 'Russian'],
  ['zh', 'Chinese'],
  ['ja', 'Japanese'],
  ['hi', 'Hindi'],
];
const MODELS = [
  ['', 'Server default'],
  ['universal-3-pro', 'universal-3-pro'],
  ['universal-2', 'universal-2'],
  ['nano', 'nano (fastest)'],
];
const PII = [
  'person_name',
  'phone_number',
  'email_address',
  'location',
  'date_of_birth',
  'credit_card_number',
  'us_social_security_number',
  'organization',
];
const FLAGS = [
  ['punctuate', 'Punctuation', true],
  ['format_text', 'Text formatting', true],
  ['speaker_labels', 'Speaker labels', false],
  ['multichannel', 'Multichannel', false],
  ['auto_highlights', 'Key phrases (auto highlights)', false],
  ['entity_detection', 'Entity detection', false],
  ['sentiment_analysis', 'Sentiment analysis', false],
  ['disfluencies', 'Keep disfluencies (um, uh)', false],
  ['filter_profanity', 'Filter profanity', false],
  ['redact_pii', 'Redact PII', false],
];

const checkbox = (name, label, checked, extra = {}) =>
  h('label', { class: 'check' }, h('input', { type: 'checkbox', name, checked, ...extra }), ` ${label}`);
const select = (name, options) =>
  h('select', { name }, options.map(([value, label]) => h('option', { value }, label)));

/** The request body the form describes (only what differs from the API's defaults). */
export function requestBody(form, audioUrl) {
  const data = new FormData(form);
  const body = { audio_url: audioUrl };
  const language = data.get('language');
  if (language === 'detect') body.language_detection = true;
  else if (language) body.language_code = language;
  if (data.get('speech_model')) body.speech_models = [data.get('speech_model')];
  for (const [name, , byDefault] of FLAGS) {
    const on = data.get(name) === 'on';
    if (on !== byDefault) body[name] = on;
  }
  if (body.speaker_labels && data.get('speakers_expected')) {
    body.speakers_expected = Number(data.get('speakers_expected'));
  }
  if (body.redact_pii) {
    body.redact_pii_policies = data.getAll('redact_pii_policies');
    body.redact_pii_sub = data.get('redact_pii_sub');
  }
  return body;
}

export function mount(view) {
  const status = h('p', { class: 'status', id: 'submit-status', role: 'status' });
  const preview = h('pre', { class: 'code', id: 'request-preview' });
  const file = h('input', { type: 'file', name: 'file', id: 'file', accept: 'audio/*,video/*' });
  const url = h('input', { type: 'url', name: 'url', id: 'audio-url', placeholder: 'a public http(s) link to an audio or video file' });
  const drop = h('label', { class: 'drop', for: 'file' }, h('strong', {}, 'Choose an audio or video file'), ' or drop it here', file);
  const piiBox = h(
    'fieldset',
    { class: 'pii', id: 'pii-options', disabled: true },
    h('legend', {}, 'PII policies'),
    PII.map((p) => checkbox('redact_pii_policies', p.replaceAll('_', ' '), ['person_name', 'phone_number'].includes(p), { value: p })),
    h('label', {}, 'Replace with ', select('redact_pii_sub', [['hash', '#### (hash)'], ['entity_name', '[ENTITY_NAME]']])),
  );
  const submit = h('button', { type: 'submit', id: 'transcribe' }, 'Transcribe');

  const form = h(
    'form',
    { class: 'card', id: 'transcribe-form' },
    h('h1', {}, 'Transcribe a recording'),
    h('div', { class: 'source' }, drop, h('p', { class: 'or' }, 'or'), h('label', {}, 'Audio URL ', url)),
    h(
      'div',
      { class: 'options' },
      h('label', {}, 'Language ', select('language', LANGUAGES)),
      h('label', {}, 'Speech model ', select('speech_model', MODELS)),
      h('div', { class: 'flags' }, FLAGS.map(([name, label, on]) => checkbox(name, label, on))),
      h('label', {}, 'Speakers expected ', h('input', { type: 'number', name: 'speakers_expected', min: 1, max: 10, placeholder: 'auto' })),
      piiBox,
    ),
    h('details', {}, h('summary', {}, 'Request body'), preview),
    h('div', { class: 'actions' }, submit, status),
  );

  const update = () => {
    piiBox.disabled = !form.elements.redact_pii.checked;
    preview.textContent = JSON.stringify(requestBody(form, url.value || '<upload_url>'), null, 2);
    if (file.files[0]) drop.querySelector('strong').textContent = file.files[0].name;
  };
  form.addEventListener('input', update);
  drop.addEventListener('dragover', (e) => e.preventDefault());
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    if (e.dataTransfer.files.length) {
      file.files = e.dataTransfer.files;
      update();
    }
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const picked = file.files[0];
    if (!picked && !url.value) {
      status.textContent = 'Choose a file or give a URL first.';
      return;
    }
    const started = performance.now();
    submit.disabled = true;
    try {
      let audioUrl = url.value;
      if (picked) {
        status.textContent = 'Uploading…';
        audioUrl = await upload(picked, (f) => (status.textContent = `Uploading… ${Math.round(f * 100)} %`));
      }
      status.textContent = 'Creating the transcript…';
      const t = await api('/v2/transcript', { method: 'POST', json: requestBody(form, audioUrl) });
      if (picked) localFiles.set(t.id, picked);
      submittedAt.set(t.id, started);
      location.hash = `#/t/${t.id}`;
    } catch (err) {
      status.textContent = `Failed: ${err.message}`;
      submit.disabled = false;
    }
  });

  update();
  view.append(form);
}
