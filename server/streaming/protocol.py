"""What a protocol adapter provides to the session runner, and helpers both adapters share."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from server.engine.recognizer import Event, StreamWord, TurnConfig
from server.streaming.close_codes import Close
from server.text.formatting import strip_punctuation


class Refused(Exception):
    """The request cannot start or go on: close the socket with this code and reason."""

    def __init__(self, close: Close) -> None:
        super().__init__(close.reason)
        self.close = close


@dataclass
class StreamOptions:
    """A protocol's query string, parsed into everything the session needs (complete when built)."""

    sample_rate: int
    encoding: str
    turn: TurnConfig
    hotwords: list[str] = field(default_factory=list)
    multilingual: bool = False
    inactivity_timeout_s: float | None = None  # v3: a graceful end after this long without audio
    session_information: bool = False  # v2: SessionInformation before SessionTerminated
    # v3 (docs/compatibility.md#v3-query)
    model: str = ""  # the API's name, as Begin echoes it
    # the U3P sequence (docs/compatibility.md#v3-models): SpeechStarted, one formatted end of turn
    universal_3_pro: bool = False
    mode: str | None = None
    format_turns: bool = False
    language_detection: bool = False
    language_codes: list[str] = field(default_factory=list)  # steer (U3P): one = decode in it
    prompt: str | None = None  # U3P custom prompt
    context_turns: int = 3  # finals and agent_context values carried into the next decodes
    context_chars: int = 200  # ...their last characters (U3P: ~1500, docs/compatibility.md#v3-models)
    include_partial_turns: bool = True
    speaker_labels: bool = False
    max_speakers: int | None = None
    redact_pii: bool = False
    redact_pii_policies: list[str] = field(default_factory=list)  # empty: all
    redact_pii_sub: str = "hash"


@dataclass
class Ready:
    """A message sent as it is, not rendered from a recognizer event (a replayed recording,
    docs/testing.md#record-and-replay)."""

    payload: dict[str, Any]


@dataclass
class Control:
    """A client's JSON message, understood (an UpdateConfiguration may set several fields)."""

    audio: bytes | None = None
    force_end: bool = False
    terminate: bool = False
    turn_update: dict[str, Any] | None = None  # TurnConfig fields to change
    stream_update: dict[str, Any] | None = None  # StreamOptions fields to change (v3 UpdateConfiguration)
    hotwords: list[str] | None = None
    agent_context: str | None = None  # the agent's last reply: carried into the next turn's prompt


class Adapter(Protocol):
    name: str  # "v2" | "v3"
    chunk_ms: tuple[int, int]
    missing_auth: Close
    invalid_auth: Close
    paid_only: Close
    too_many_streams: Close
    expired: Close
    server_error: Close
    is_v3: bool  # v3: idle sessions end gracefully (inactivity_timeout), any message is activity

    @property
    def idle(self) -> Close | None:
        """v2: the close for an idle session."""
        ...

    def parse_query(self, query: Mapping[str, str], partial_interval_ms: int) -> StreamOptions: ...
    def paid_only_message(self) -> dict[str, Any] | None: ...
    def begin(self, session_id: str, expires_at: float, stream: StreamOptions) -> dict[str, Any]: ...
    def parse_message(self, text: str) -> Control: ...
    def render(self, event: Event, stream: StreamOptions) -> list[dict[str, Any]]: ...
    def error_message(self, close: Close) -> dict[str, Any] | None: ...
    def chunk_too_short(self, ms: float) -> Close: ...
    def chunk_too_long(self, ms: float) -> Close: ...
    def too_fast(self, audio_s: float, wall_s: float) -> Close: ...
    def termination(
        self, audio_s: float, session_s: float, stream: StreamOptions
    ) -> list[dict[str, Any]]: ...


def parse_bool(value: str | None, default: bool = False) -> bool | None:
    """Python sends True/False, JS true/false (docs/compatibility.md#v3-query): any case. None when
    unparsable."""
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    return None


def parse_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        try:
            number = float(value)  # type: ignore[arg-type]
        except ValueError:
            return None
        return int(number) if number.is_integer() else None


def parse_float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def parse_string_list(value: str) -> list[str] | None:
    """A URL-encoded JSON array of strings (word_boost, keyterms_prompt); None when it is not one."""
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
        return None
    return data


def plain(word: str) -> str:
    """A word as unformatted turns and partials show it: lower case, no punctuation (a redacted word
    stays as redacted: `####`, `[PERSON_NAME]`)."""
    if "#" in word or "[" in word:
        return word.strip(".,!?;:")
    return strip_punctuation(word).lower()


def plain_text(words: list[StreamWord]) -> str:
    return " ".join(t for t in (plain(w.text) for w in words) if t)


def formatted_text(words: list[StreamWord]) -> str:
    return " ".join(w.text for w in words)


def mean_confidence(words: list[StreamWord]) -> float:
    return round(sum(w.confidence for w in words) / len(words), 4) if words else 0.0
