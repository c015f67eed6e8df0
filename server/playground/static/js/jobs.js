// The account's transcripts (GET /v2/transcript) with durations and timings from the playground route.
import { api } from './api.js';
import { h, seconds, when } from './dom.js';

async function remove(id, reload) {
  if (!window.confirm(`Delete transcript ${id}? Its text and uploaded audio are removed for good.`)) return;
  try {
    await api(`/v2/transcript/${id}`, { method: 'DELETE' });
  } catch (err) {
    window.alert(`Could not delete: ${err.message}`);
  }
  reload();
}

function row(item, job, reload) {
  const status = item.status === 'queued' && job?.throttled ? `queued (throttled, ${job.ahead} ahead)` : item.status;
  return h(
    'tr',
    { dataset: { id: item.id, status: item.status } },
    h('td', {}, when(item.created)),
    h('td', {}, h('a', { href: `#/t/${item.id}` }, item.id.slice(0, 8))),
    h('td', {}, h('span', { class: `chip st-${item.status}` }, status)),
    h('td', { class: 'num' }, job?.audio_duration != null ? seconds(job.audio_duration, 0) : '–'),
    h('td', { class: 'num' }, seconds(job?.queued_s, 2)),
    h('td', { class: 'num', dataset: { col: 'processing' } }, seconds(job?.processing_s, 2)),
    h('td', { class: 'num' }, job?.speed != null ? `${job.speed}×` : '–'),
    h('td', { class: 'src', title: item.audio_url }, job?.deleted ? 'deleted' : job?.source === 'upload' ? 'upload' : item.audio_url),
    h('td', {}, ['completed', 'error'].includes(item.status) && !job?.deleted
      ? h('button', { type: 'button', class: 'link', dataset: { delete: item.id }, onclick: () => remove(item.id, reload) }, 'Delete')
      : null),
  );
}

export function mount(view, _params, { refreshLimits }) {
  let timer = 0;
  let stopped = false;
  const limits = h('p', { class: 'muted', id: 'jobs-limits' });
  const body = h('tbody');
  const table = h(
    'table',
    { class: 'jobs', id: 'jobs-table' },
    h('thead', {}, h('tr', {}, ['Created', 'ID', 'Status', 'Audio', 'Waited', 'Processing', 'Speed', 'Source', ''].map((c) => h('th', {}, c)))),
    body,
  );
  view.append(h('section', { class: 'card' }, h('h1', {}, 'Jobs'), limits, table));

  const load = async () => {
    try {
      const [list, timings, account] = await Promise.all([
        api('/v2/transcript?limit=100'),
        api('/playground/api/jobs?limit=100'),
        refreshLimits(),
      ]);
      if (stopped) return;
      const byId = new Map(timings.jobs.map((j) => [j.id, j]));
      const reload = () => {
        clearTimeout(timer);
        load();
      };
      body.replaceChildren(...list.transcripts.map((item) => row(item, byId.get(item.id), reload)));
      if (!list.transcripts.length) body.append(h('tr', {}, h('td', { colspan: 9, class: 'muted' }, 'No transcripts yet.')));
      if (account) {
        const streams = account.streams.active === null ? 'n/a' : account.streams.active;
        limits.textContent =
          `Limits in use: ${account.async.processing} of ${account.async.limit} transcripts processing, ` +
          `${account.async.queued} queued; ${streams} of ${account.streams.limit} live streams.`;
      }
      const busy = list.transcripts.some((t) => t.status === 'queued' || t.status === 'processing');
      timer = setTimeout(load, busy ? 1000 : 5000);
    } catch (err) {
      limits.textContent = `Could not load the jobs: ${err.message}`;
    }
  };
  load();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
