"""Get a job's audio onto local disk: an upload is already there; a URL is downloaded with httpx."""

from __future__ import annotations

from pathlib import Path

import httpx

from server import errors
from server.jobs.errors import JobError

_CHUNK = 1 << 20


def download(url: str, dest: Path, *, max_bytes: int, timeout_s: float) -> Path:
    """Stream `url` to `dest`, capping size and time; failures become the API's download errors."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part")
    size = 0
    try:
        with httpx.stream(
            "GET", url, follow_redirects=True, timeout=httpx.Timeout(timeout_s, connect=10.0)
        ) as r:
            if r.status_code >= 400:
                kind = "Client" if r.status_code < 500 else "Server"
                raise JobError(
                    errors.DOWNLOAD_HTTP.format(
                        url=url, code=r.status_code, kind=kind, reason=r.reason_phrase
                    )
                )
            with open(tmp, "wb") as fh:
                for chunk in r.iter_bytes(_CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise JobError(errors.DOWNLOAD_TOO_LARGE)
                    fh.write(chunk)
        tmp.replace(dest)
        return dest
    except httpx.HTTPError as exc:
        raise JobError(errors.DOWNLOAD_UNREACHABLE.format(url=url)) from exc
    finally:
        tmp.unlink(missing_ok=True)
