// The public API with the signed-in key, as an SDK would call it. The key lives in sessionStorage only.
const KEY = 'localscribe.apiKey';

export const getKey = () => sessionStorage.getItem(KEY);
export const setKey = (key) => sessionStorage.setItem(KEY, key);
export const clearKey = () => sessionStorage.removeItem(KEY);

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function failure(response) {
  let message = `HTTP ${response.status}`;
  try {
    message = (await response.json()).error || message;
  } catch {
    /* not JSON */
  }
  if (response.status === 401) window.dispatchEvent(new CustomEvent('unauthorized'));
  return new ApiError(response.status, message);
}

/** JSON in, JSON out; `raw: true` returns the Response (for text and blobs). */
export async function api(path, { method = 'GET', json, raw = false, signal } = {}) {
  const headers = { Authorization: getKey() || '' };
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  }
  const response = await fetch(path, { method, headers, body, signal });
  if (!response.ok) throw await failure(response);
  return raw ? response : response.json();
}

/** POST /v2/upload with progress (fetch cannot report upload progress); resolves to the upload_url. */
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v2/upload');
    xhr.setRequestHeader('Authorization', getKey() || '');
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress?.(e.loaded / e.total);
    xhr.onerror = () => reject(new ApiError(0, 'network error during upload'));
    xhr.onload = () => {
      let body = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* keep {} */
      }
      if (xhr.status === 200 && body.upload_url) resolve(body.upload_url);
      else {
        if (xhr.status === 401) window.dispatchEvent(new CustomEvent('unauthorized'));
        reject(new ApiError(xhr.status, body.error || `HTTP ${xhr.status}`));
      }
    };
    xhr.send(file);
  });
}

/** Save a blob under a file name (no new tab, no key in a URL). */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
