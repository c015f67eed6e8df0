"""Record and replay an upstream AssemblyAI-compatible API (docs/testing.md#record-and-replay).

`record`: a job's audio and parameters go to `upstream_url` (the real API with the user's own key, or another
LocalScribe); what comes back (the final transcript JSON and its exports) is written as one readable JSON
file named by the audio's SHA-256 and the canonical parameters, and the job completes with it. `replay`:
the same file answers the job; the job still goes through this server's queue, throttle, statuses and
webhooks, and gets its own id and timestamps. A miss (no file) is an error naming the key, or, with
`replay_miss=engine`, a plain transcription (CHOICE). Keys are never written; upload and other presigned
URLs are replaced by a placeholder.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from server import errors
from server.clock import iso, utcnow
from server.config import Settings
from server.emulator.payloads import problem

FORMAT = 1
SCRUBBED_URL = "<scrubbed>"
# the request's own, never the recording's: a replayed job shows its own id, URLs, webhook and state
IDENTITY_KEYS = frozenset(
    {
        "id",
        "status",
        "audio_url",
        "throttled",
        "error",
        "webhook_url",
        "webhook_auth",
        "webhook_auth_header_name",
        "webhook_status_code",
    }
)
NOT_FORWARDED = frozenset({"audio_url", "webhook_url", "webhook_auth", "webhook_auth_header_name"})
NOT_FORWARDED |= {"webhook_auth_header_value"}
URL_KEYS = frozenset({"audio_url", "webhook_url", "upload_url", "redacted_audio_url", "resource_url"})
EXPORTS = {"srt": "srt", "vtt": "vtt", "sentences": "sentences", "paragraphs": "paragraphs"}
POLL_S = 0.5


class RecordingError(Exception):
    """A recording cannot be used: the job ends in `error`, or the stream closes (3005), with this message
    (the node turns it into the job's error or the session's close: server/node.py)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Recording(BaseModel):
    """One recorded job, as written to disk (checked when it is read back)."""

    model_config = ConfigDict(extra="forbid")

    format: int = Field(ge=FORMAT, le=FORMAT)
    audio_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    audio_bytes: int = Field(ge=0)
    params: dict[str, Any]
    recorded_at: str
    upstream: str
    transcript: dict[str, Any]
    exports: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Recorded:
    """What a recording gives a job: its result, its length, and the exports served as recorded."""

    result: dict[str, Any]
    audio_duration: int
    exports: dict[str, Any]


def canonical_params(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters that decide a transcript: what the upstream is sent, and half of a recording's key."""
    return {
        k: v
        for k, v in sorted(params.items())
        if v is not None and k not in NOT_FORWARDED and not k.startswith("_")
    }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def params_key(params: dict[str, Any]) -> str:
    text = json.dumps(canonical_params(params), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def recording_path(folder: Path, audio_sha256: str, params: dict[str, Any]) -> Path:
    return folder / f"{audio_sha256[:16]}-{params_key(params)}.json"


def recorded_outcome(params: dict[str, Any], audio: Path, settings: Settings) -> Recorded | None:
    """A job's outcome from a recording, in `record` or `replay` mode; None: transcribe as usual (mode off,
    or a replay miss with `replay_miss=engine`). A scripted job never gets here."""
    if settings.recordings_mode == "off":
        return None
    sha256 = file_sha256(audio)
    path = recording_path(settings.recordings_dir, sha256, params)
    if settings.recordings_mode == "record":
        recording = _record(params, audio, sha256, settings)
        _write(path, recording)
    elif path.is_file():
        recording = read_recording(path)
    elif settings.replay_miss == "engine":
        return None
    else:
        key = path.stem.split("-", 1)[1]
        raise RecordingError(
            errors.RECORDING_MISSING.format(sha256=sha256, key=key, folder=settings.recordings_dir)
        )
    return _outcome(recording)


def read_recording(path: Path) -> Recording:
    """A recording file, or a RecordingError naming the file and the field that is wrong."""
    try:
        return Recording.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise RecordingError(errors.RECORDING_INVALID.format(path=path.name, problem=problem(exc))) from None
    except OSError as exc:
        raise RecordingError(errors.RECORDING_INVALID.format(path=path.name, problem=exc.strerror)) from None


def _outcome(recording: Recording) -> Recorded:
    t = recording.transcript
    if t.get("status") == "error":
        raise RecordingError(str(t.get("error") or errors.SERVER_ERROR))
    result = {k: v for k, v in t.items() if k not in IDENTITY_KEYS}
    return Recorded(result, int(t.get("audio_duration") or 0), recording.exports)


def _record(params: dict[str, Any], audio: Path, sha256: str, settings: Settings) -> Recording:
    """Send the job upstream (upload, create, poll, fetch exports) and keep the answer, scrubbed."""
    headers = {"Authorization": settings.upstream_api_key or ""}
    base = settings.upstream_url.rstrip("/")
    with httpx.Client(base_url=base, headers=headers, timeout=settings.download_timeout_s) as client:
        with audio.open("rb") as fh:
            upload_url = _json(client.post("/v2/upload", content=fh))["upload_url"]
        created = _json(
            client.post("/v2/transcript", json={**canonical_params(params), "audio_url": upload_url})
        )
        deadline = time.monotonic() + settings.download_deadline_s
        transcript = created
        while transcript.get("status") not in ("completed", "error"):
            if time.monotonic() > deadline:
                raise RecordingError(
                    errors.RECORDING_UPSTREAM.format(problem="nothing final before the deadline")
                )
            time.sleep(POLL_S)
            transcript = _json(client.get(f"/v2/transcript/{created['id']}"))
        exports: dict[str, Any] = {}
        if transcript["status"] == "completed":
            for name, path in EXPORTS.items():
                response = client.get(f"/v2/transcript/{created['id']}/{path}")
                if response.status_code == 200:
                    exports[name] = response.json() if name in ("sentences", "paragraphs") else response.text
    secrets = [s for s in (settings.upstream_api_key, upload_url) if s]
    return Recording(
        format=FORMAT,
        audio_sha256=sha256,
        audio_bytes=audio.stat().st_size,
        params=canonical_params(params),
        recorded_at=iso(utcnow()) or "",
        upstream=_origin(base),
        transcript=scrub(transcript, secrets),
        exports=scrub(exports, secrets),
    )


def _json(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise RecordingError(
            errors.RECORDING_UPSTREAM.format(problem=f"{response.status_code} {response.text[:200]}")
        )
    value = response.json()
    return value if isinstance(value, dict) else {}


def _origin(url: str) -> str:
    """The upstream without credentials or query (a URL may carry them)."""
    parts = httpx.URL(url)
    return f"{parts.scheme}://{parts.host}{f':{parts.port}' if parts.port else ''}"


def scrub(value: Any, secrets: list[str]) -> Any:
    """URL fields replaced, and any string that carries a secret (a key, a presigned URL) scrubbed."""
    if isinstance(value, dict):
        return {k: SCRUBBED_URL if k in URL_KEYS and v else scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, SCRUBBED_URL)
        return value
    return value


def _write(path: Path, recording: Recording) -> None:
    """Atomically, pretty-printed: recordings are read in code review next to the tests."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(f".{os.getpid()}.part")
    part.write_text(json.dumps(recording.model_dump(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    part.replace(path)
