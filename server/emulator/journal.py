"""The request journal (docs/testing.md#request-journal): every API request and streaming session as it
arrived, so a test can ask what the application sent ("speaker_labels with 2 speakers, once").

An entry holds the method, path, query, account, status (a stream: its close code), timings, the JSON
parameters or the Sync API's `config` part, and audio only as its SHA-256 and length: never its bytes,
never a key or token (the `token` query and secret fields are scrubbed). The journal is a bounded deque in
the API process (the oldest entries go first) and `/admin/reset` clears it. It is filled by an ASGI
middleware that watches the bytes go by; the routes do not know it exists.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import errors
from server.clock import iso, utcnow
from server.multipart import MultipartEvents, PartData, PartStart, boundary_of

API_PREFIXES = ("/v2/", "/v3/", "/v1/", "/transcribe", "/dictation/")
RESET_PATH = "/admin/reset"
UPLOAD_PATH = "/v2/upload"
SECRET_FIELDS = frozenset({"webhook_auth_header_value", "token", "api_key", "authorization"})
SCRUBBED = "***"
MAX_JSON_BYTES = 1 << 20  # a JSON body larger than this is journalled without its parameters
MAX_CONFIG_BYTES = 256 << 10
MAX_KNOWN_UPLOADS = 10_000
TERMINATIONS = frozenset({"Termination", "SessionTerminated"})  # a stream's last message (v3, v2)


@dataclass(frozen=True)
class AudioRef:
    """Audio as the journal keeps it: what identifies it, not what it says."""

    sha256: str
    bytes: int
    upload_url: str | None = None


@dataclass(frozen=True)
class Entry:
    seq: int
    kind: str  # "http" or "stream"
    method: str
    path: str
    query: dict[str, str]
    account_id: str | None
    status: int | None  # HTTP status; for a stream, its close code (None: the client left first)
    started_at: str
    duration_ms: float
    params: dict[str, Any] | None = None  # the JSON body, the Sync API's config, or a stream's query
    audio: AudioRef | None = None
    audio_s: float | None = None  # a stream: seconds of audio received
    messages: dict[str, int] = field(default_factory=dict)  # a stream: JSON messages by `type`

    def render(self) -> dict[str, Any]:
        return asdict(self)


def scrub(value: Any) -> Any:
    """A JSON value with every secret field's value replaced (at any depth)."""
    if isinstance(value, dict):
        return {k: SCRUBBED if k.lower() in SECRET_FIELDS else scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def _subset(wanted: Any, got: Any) -> bool:
    """`wanted` is contained in `got`: dicts by key (recursively), everything else by equality."""
    if isinstance(wanted, dict):
        return isinstance(got, dict) and all(k in got and _subset(v, got[k]) for k, v in wanted.items())
    return bool(wanted == got)


class Journal:
    """A bounded, thread-safe list of entries, newest last."""

    def __init__(self, max_entries: int) -> None:
        self._lock = threading.Lock()
        self._entries: deque[Entry] = deque(maxlen=max_entries)
        self._uploads: OrderedDict[str, AudioRef] = OrderedDict()  # upload_url -> its audio
        self._seq = 0
        self.dropped = 0  # entries pushed out by newer ones since the last clear

    def add(self, **fields: Any) -> Entry:
        with self._lock:
            self._seq += 1
            entry = Entry(seq=self._seq, **fields)
            if len(self._entries) == self._entries.maxlen:
                self.dropped += 1
            self._entries.append(entry)
            return entry

    def remember_upload(self, audio: AudioRef) -> None:
        if audio.upload_url is None:
            return
        with self._lock:
            self._uploads[audio.upload_url] = audio
            while len(self._uploads) > MAX_KNOWN_UPLOADS:
                self._uploads.popitem(last=False)

    def upload(self, url: Any) -> AudioRef | None:
        with self._lock:
            return self._uploads.get(url) if isinstance(url, str) else None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._uploads.clear()
            self.dropped = 0

    def entries(
        self,
        *,
        account_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        kind: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[Entry]:
        """Entries that match every filter given: `path` is a shell glob, `params` a JSON subset."""
        with self._lock:
            items: Iterable[Entry] = list(self._entries)
        return [
            e
            for e in items
            if (account_id is None or e.account_id == account_id)
            and (method is None or e.method == method.upper())
            and (path is None or fnmatch.fnmatchcase(e.path, path))
            and (kind is None or e.kind == kind)
            and (params is None or _subset(params, e.params))
        ]


def parse_params_filter(raw: str | None) -> dict[str, Any] | None:
    """`?params=` of `GET /admin/requests`: a JSON object, or a 400 naming the field."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise errors.ApiError(
            400, errors.INVALID_ADMIN_FIELD.format(field="params", problem="not a JSON object")
        )
    return value


class _Watch:
    """What one request's bytes say, gathered as they pass (never stored whole)."""

    def __init__(self, scope: Scope) -> None:
        self.path: str = scope["path"]
        self.body = bytearray()
        self.body_len = 0
        self.json_ok = True
        self.digest = hashlib.sha256() if self.path.rstrip("/") == UPLOAD_PATH else None
        self.response = bytearray()
        self.multipart: MultipartEvents | None = None
        self.part: str | None = None
        self.config = bytearray()
        self.audio_digest: Any = None
        self.audio_len = 0
        self.messages: dict[str, int] = {}
        if self.path.startswith(("/v1/", "/transcribe", "/dictation/")) and scope["method"] == "POST":
            headers = dict(scope.get("headers") or [])
            try:
                self.multipart = MultipartEvents(
                    boundary_of(headers.get(b"content-type", b"").decode("latin-1"))
                )
            except errors.Problem:
                self.multipart = None

    def request_bytes(self, data: bytes) -> None:
        self.body_len += len(data)
        if self.digest is not None:
            self.digest.update(data)
        elif self.multipart is not None:
            self._multipart(data)
        elif self.json_ok:
            if self.body_len > MAX_JSON_BYTES:
                self.json_ok, self.body = False, bytearray()
            else:
                self.body += data

    def _multipart(self, data: bytes) -> None:
        try:
            events = self.multipart.feed(data) if self.multipart else []
        except errors.Problem:
            self.multipart = None
            return
        for event in events:
            if isinstance(event, PartStart):
                self.part = event.name
                if event.name != "config":
                    self.audio_digest = self.audio_digest or hashlib.sha256()
            elif isinstance(event, PartData):
                if self.part == "config" and len(self.config) < MAX_CONFIG_BYTES:
                    self.config += event.data
                elif self.part != "config" and self.audio_digest is not None:
                    self.audio_digest.update(event.data)
                    self.audio_len += len(event.data)

    def params(self) -> dict[str, Any] | None:
        raw = bytes(self.config) if self.multipart is not None else bytes(self.body)
        if not raw.strip():
            return None
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None
        return scrub(value) if isinstance(value, dict) else None

    def audio(self, journal: Journal, params: dict[str, Any] | None) -> AudioRef | None:
        if self.digest is not None:
            url = None
            with contextlib.suppress(ValueError, UnicodeDecodeError, AttributeError):
                url = json.loads(bytes(self.response)).get("upload_url")
            return AudioRef(self.digest.hexdigest(), self.body_len, url)
        if self.audio_digest is not None:
            return AudioRef(self.audio_digest.hexdigest(), self.audio_len)
        return journal.upload((params or {}).get("audio_url"))


def _query(scope: Scope) -> dict[str, str]:
    from urllib.parse import parse_qsl

    pairs = parse_qsl((scope.get("query_string") or b"").decode("latin-1"), keep_blank_values=True)
    return {k: SCRUBBED if k.lower() in SECRET_FIELDS else v for k, v in pairs}


class JournalMiddleware:
    """Journals `/v2/…`, `/v3/…`, the Sync and Dictation APIs and both streaming endpoints; clears the
    journal when `/admin/reset` succeeds."""

    def __init__(self, app: ASGIApp, journal: Journal) -> None:
        self.app = app
        self.journal = journal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path == RESET_PATH:
            await self._reset(scope, receive, send)
            return
        if scope["type"] not in ("http", "websocket") or not path.startswith(API_PREFIXES):
            await self.app(scope, receive, send)
            return
        watch = _Watch(scope) if scope["type"] == "http" else None
        started, started_at = time.perf_counter(), iso(utcnow())
        status: list[int | None] = [None]
        stream_audio = hashlib.sha256()  # a stream's binary frames; unused for http
        stream_bytes = [0]
        counts: dict[str, int] = {}
        recorded = [False]

        def record() -> None:
            """Once, just before the answer's last byte (or the close) leaves: a client that has its answer
            finds the entry."""
            if recorded[0]:
                return
            recorded[0] = True
            state = scope.get("state") or {}
            common = {
                "path": path,
                "query": _query(scope),
                "account_id": state.get("account_id"),
                "status": status[0],
                "started_at": started_at,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            }
            if watch is not None:
                params = watch.params()
                ref = watch.audio(self.journal, params)
                if ref is not None and ref.upload_url is not None and status[0] == 200:
                    self.journal.remember_upload(ref)
                self.journal.add(kind="http", method=scope["method"], params=params, audio=ref, **common)
                return
            size = stream_bytes[0]
            self.journal.add(
                kind="stream",
                method="GET",
                params=common["query"],
                audio=AudioRef(stream_audio.hexdigest(), size) if size else None,
                audio_s=_pcm_seconds(size, common["query"]),
                messages=dict(counts),
                **common,
            )

        async def watched_receive() -> Message:
            message = await receive()
            if watch is not None and message["type"] == "http.request":
                watch.request_bytes(message.get("body", b""))
            elif message["type"] == "websocket.receive" and message.get("bytes"):
                stream_audio.update(message["bytes"])
                stream_bytes[0] += len(message["bytes"])
            return message

        async def watched_send(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                status[0] = message["status"]
            elif kind == "http.response.body" and watch is not None:
                if watch.digest is not None:
                    watch.response += message.get("body", b"")[:4096]
                if not message.get("more_body", False):
                    record()
            elif kind == "websocket.send" and message.get("text"):
                if _count_type(message["text"], counts) in TERMINATIONS:
                    status[0] = 1000  # a terminated session closes normally; the client may close first
                    record()
            elif kind == "websocket.close":
                status[0] = message.get("code", 1000)
                record()
            await send(message)

        try:
            await self.app(scope, watched_receive, watched_send)
        finally:
            record()  # the client left first, or the app failed before answering

    async def _reset(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def watched_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                self.journal.clear()  # before the answer leaves: the next request is the first entry
            await send(message)

        await self.app(scope, receive, watched_send)


def _count_type(text: str, counts: dict[str, int]) -> str | None:
    """Count one message by its type; returns the type."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    name = value.get("type") or value.get("message_type") if isinstance(value, dict) else None
    if not isinstance(name, str):
        return None
    counts[name] = counts.get(name, 0) + 1
    return name


def _pcm_seconds(size: int, query: dict[str, str]) -> float | None:
    """Seconds of binary audio a stream received, from its declared encoding and rate (16-bit PCM unless
    `encoding` says µ-law)."""
    try:
        rate = int(query.get("sample_rate", "16000"))
    except ValueError:
        return None
    width = 1 if query.get("encoding") == "pcm_mulaw" else 2
    return round(size / (width * rate), 3) if rate > 0 else None
