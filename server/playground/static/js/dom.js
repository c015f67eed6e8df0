// A few DOM helpers: elements are built with textContent, never innerHTML, so transcript text stays text.

/** h('a', {href: '#/', class: 'x', onclick: fn, dataset: {...}}, 'text', child, [children]) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'class') el.className = value;
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

export function seconds(value, digits = 1) {
  if (value === null || value === undefined) return '–';
  if (value < 60) return `${value.toFixed(digits)} s`;
  const m = Math.floor(value / 60);
  const s = Math.round(value % 60);
  return `${m} min ${String(s).padStart(2, '0')} s`;
}

/** 83450 ms → "1:23.4" (player-style clock). */
export function clock(ms) {
  const total = ms / 1000;
  const m = Math.floor(total / 60);
  const s = (total % 60).toFixed(1).padStart(4, '0');
  return `${m}:${s}`;
}

export function when(iso) {
  if (!iso) return '–';
  const d = new Date(iso.endsWith('Z') || iso.includes('+') ? iso : `${iso}Z`);
  return d.toLocaleString();
}
