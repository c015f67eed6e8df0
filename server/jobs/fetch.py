"""Get a job's audio onto local disk: an upload is already there; a URL is downloaded with httpx.

The download goes through the URL policy (server/jobs/outbound.py) and ends at `download_deadline_s`
however slowly the peer sends; every failure becomes the API's download error, and a refused address
reads like an unreachable one.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from server import errors
from server.config import Settings
from server.jobs.errors import JobError
from server.jobs.outbound import guarded_client

_CHUNK = 1 << 20


def download(url: str, dest: Path, settings: Settings) -> Path:
    """Stream `url` to `dest`, capping size and time; failures become the API's download errors."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part")
    size = 0
    timeout = httpx.Timeout(settings.download_timeout_s, connect=10.0)
    try:
        with (
            guarded_client(
                settings, timeout=timeout, total_s=settings.download_deadline_s, follow_redirects=True
            ) as client,
            client.stream("GET", url) as r,
        ):
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
                    if size > settings.max_download_bytes:
                        raise JobError(errors.DOWNLOAD_TOO_LARGE)
                    fh.write(chunk)
        tmp.replace(dest)
        return dest
    except httpx.HTTPError as exc:
        raise JobError(errors.DOWNLOAD_UNREACHABLE.format(url=url)) from exc
    finally:
        tmp.unlink(missing_ok=True)
