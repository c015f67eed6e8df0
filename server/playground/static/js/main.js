// Sign-in, the header's limits line, and a hash router over the four views.
import { ApiError, api, clearKey, getKey, setKey } from './api.js';
import * as jobs from './jobs.js';
import * as live from './live.js';
import * as result from './result.js';
import * as transcribe from './transcribe.js';

const $ = (id) => document.getElementById(id);
let unmount = null;
let limitsTimer = null;

function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const match = hash.match(/^\/t\/([0-9a-f-]{36})$/);
  if (match) return { name: 'jobs', view: result, params: { id: match[1] } };
  if (hash === '/jobs') return { name: 'jobs', view: jobs, params: {} };
  if (hash === '/live') return { name: 'live', view: live, params: {} };
  return { name: 'transcribe', view: transcribe, params: {} };
}

function render() {
  unmount?.();
  unmount = null;
  const view = $('view');
  view.replaceChildren();
  const signedIn = Boolean(getKey());
  $('signin').hidden = signedIn;
  $('nav').hidden = !signedIn;
  $('who').hidden = !signedIn;
  if (!signedIn) {
    $('api-key').focus();
    return;
  }
  const { name, view: module, params } = route();
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.view === name);
  unmount = module.mount(view, params, { refreshLimits }) || null;
}

export async function refreshLimits() {
  if (!getKey()) return null;
  try {
    const s = await api('/playground/api/account');
    const streams = s.streams.active === null ? 'n/a' : s.streams.active;
    $('limits').textContent =
      `${s.account.name} (${s.account.tier}) · processing ${s.async.processing}/${s.async.limit}` +
      ` · queued ${s.async.queued} · streams ${streams}/${s.streams.limit}`;
    return s;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) $('limits').textContent = 'limits unavailable';
    return null;
  }
}

function startLimits() {
  clearInterval(limitsTimer);
  refreshLimits();
  limitsTimer = setInterval(() => document.visibilityState === 'visible' && refreshLimits(), 3000);
}

$('signin-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const key = $('api-key').value.trim();
  $('signin-error').textContent = '';
  setKey(key);
  try {
    await api('/playground/api/account');
  } catch (err) {
    clearKey();
    $('signin-error').textContent = err.status === 401 ? 'This key is not valid on this server.' : err.message;
    return;
  }
  $('api-key').value = '';
  startLimits();
  render();
});

$('signout').addEventListener('click', () => {
  clearKey();
  clearInterval(limitsTimer);
  render();
});

window.addEventListener('unauthorized', () => {
  clearKey();
  clearInterval(limitsTimer);
  render();
  $('signin-error').textContent = 'The server rejected the key; sign in again.';
});
window.addEventListener('hashchange', render);

if (getKey()) startLimits();
render();
