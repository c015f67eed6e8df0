"""A small HTTP client for the AssemblyAI-style API: the CLI talks to LocalScribe only through this.

Every failure becomes a `ClientError` carrying the message a user should read and the process exit code,
so the commands never see httpx exceptions or status codes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

# exit codes, one per kind of failure a script may want to tell apart (2 is click's usage error)
EXIT_API_ERROR = 1  # the API refused the request (400 lookup error, validation, 5xx)
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_AUTH = 4
EXIT_JOB_FAILED = 5  # the transcript ended with status "error"

FINISHED = ("completed", "error")
CHUNK_BYTES = 1 << 20
RETRIES = 5  # consecutive unanswered polls before `wait` gives up


class ClientError(Exception):
    """A failure to report on stderr, with the exit code to leave with."""

    def __init__(self, message: str, exit_code: int = EXIT_API_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class JobFailed(ClientError):
    """The transcript finished with status "error"; `transcript` is its final body."""

    def __init__(self, transcript: dict[str, Any]) -> None:
        error = transcript.get("error") or "no error message"
        super().__init__(f"transcript {transcript.get('id')} failed: {error}", EXIT_JOB_FAILED)
        self.transcript = transcript


def _error_text(response: httpx.Response) -> str:
    """The API's own `{"error": …}` text, else whatever the body or status line says."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])
    if isinstance(body, dict) and body.get("title"):  # the Sync and Dictation APIs' problem details
        return f"{body['title']}: {body.get('detail') or ''}".rstrip(": ")
    return response.text.strip()[:300] or response.reason_phrase or "no details"


class Api:
    """One server and key; use as a context manager so the connection pool is closed."""

    def __init__(
        self,
        server: str,
        key: str | None,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,  # tests: httpx.MockTransport
    ) -> None:
        self.server = server
        headers = {"Authorization": key} if key else {}
        timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
        self._http = httpx.Client(base_url=server, headers=headers, timeout=timeout, transport=transport)

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ClientError(
                f"cannot reach LocalScribe at {self.server} ({exc.__class__.__name__}: {exc})",
                EXIT_UNREACHABLE,
            ) from None
        if response.status_code == 401:
            raise ClientError(
                f"{_error_text(response)} (HTTP 401). Set the key with --key, $LOCALSCRIBE_CLIENT_KEY "
                "or `localscribe config --key KEY`.",
                EXIT_AUTH,
            )
        if response.status_code >= 400:
            raise ClientError(f"{_error_text(response)} (HTTP {response.status_code})", EXIT_API_ERROR)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A JSON object body, or a clear error when something other than the API answered."""
        response = self._request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ClientError(
                f"{self.server} did not answer {method} {path} with the API's JSON", EXIT_API_ERROR
            )
        return body

    def upload(self, path: Path, on_progress: Callable[[int], None] = lambda n: None) -> str:
        """Stream a local file to /v2/upload (never read whole into memory); returns its upload_url."""
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ClientError(f"cannot read {path}: {exc.strerror}", EXIT_USAGE) from None

        def chunks() -> Iterator[bytes]:
            with path.open("rb") as f:
                while chunk := f.read(CHUNK_BYTES):
                    yield chunk
                    on_progress(len(chunk))

        # an explicit length keeps httpx from chunking, so the server can refuse an oversized file at once
        headers = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
        return str(self._json("POST", "/v2/upload", content=chunks(), headers=headers).get("upload_url"))

    def create(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/v2/transcript", json=params)

    def get(self, transcript_id: str) -> dict[str, Any]:
        return self._json("GET", f"/v2/transcript/{quote(transcript_id, safe='')}")

    def delete(self, transcript_id: str) -> dict[str, Any]:
        return self._json("DELETE", f"/v2/transcript/{quote(transcript_id, safe='')}")

    def list(self, limit: int | None = None, status: str | None = None) -> dict[str, Any]:
        query = {k: v for k, v in {"limit": limit, "status": status}.items() if v is not None}
        return self._json("GET", "/v2/transcript", params=query)

    def subtitles(self, transcript_id: str, fmt: str) -> str:
        return self._request("GET", f"/v2/transcript/{quote(transcript_id, safe='')}/{fmt}").text

    def transcribe_now(
        self, path: Path, config: dict[str, Any], *, prefix: str = "", model: str | None = None
    ) -> dict[str, Any]:
        """One request, one transcript (the Sync API, or Dictation under `prefix`): the config part first,
        then the file, posted to the live path as the SDKs do."""
        try:
            audio = path.read_bytes()
        except OSError as exc:
            raise ClientError(f"cannot read {path}: {exc.strerror}", EXIT_USAGE) from None
        kind = "audio/pcm" if "sample_rate" in config else "audio/wav"
        files = {
            "config": (None, json.dumps(config), "application/json"),
            "audio": (path.name, audio, kind),
        }
        headers = {"X-AAI-Model": model} if model else {}
        return self._json("POST", f"{prefix}/v1/transcribe/live", files=files, headers=headers, timeout=300)

    def wait(
        self,
        transcript_id: str,
        on_status: Callable[[str], None] = lambda s: None,
        first_interval_s: float = 0.2,
        max_interval_s: float = 3.0,
    ) -> dict[str, Any]:
        """Poll until the job is completed or error and return its body; the interval grows to a
        ceiling, so short jobs answer at once and long ones do not hammer the server. A server that
        stops answering for a while (a restart: the job is durable) is retried `RETRIES` times."""
        interval = first_interval_s
        misses = 0
        while True:
            try:
                transcript = self.get(transcript_id)
            except ClientError as exc:
                misses += 1
                if exc.exit_code != EXIT_UNREACHABLE or misses > RETRIES:
                    raise
                on_status("server not answering, retrying")
                time.sleep(max_interval_s)
                continue
            misses = 0
            status = transcript.get("status", "")
            on_status(status)
            if status in FINISHED:
                return transcript
            time.sleep(interval)
            interval = min(max_interval_s, interval * 1.5)
