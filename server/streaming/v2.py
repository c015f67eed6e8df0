"""The legacy v2 real-time protocol, `/v2/realtime/ws` (docs/compatibility.md#v2-streaming)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from server.clock import utcnow
from server.engine.recognizer import Event, Final, TurnConfig
from server.media.pcm import ENCODINGS, MAX_SAMPLE_RATE
from server.streaming import close_codes as cc
from server.streaming.protocol import (
    Control,
    Refused,
    StreamOptions,
    formatted_text,
    mean_confidence,
    parse_bool,
    parse_int,
    parse_string_list,
    plain,
)

DEFAULT_SILENCE_MS = 700
MAX_SILENCE_MS = 20_000
MAX_WORD_BOOST_CHARS = 2500


def _now_iso() -> str:
    return utcnow().isoformat(timespec="microseconds")


class V2Adapter:
    name = "v2"
    chunk_ms = cc.V2_CHUNK_MS
    missing_auth = cc.V2_NOT_AUTHORIZED
    invalid_auth = cc.V2_NOT_AUTHORIZED
    paid_only = cc.V2_PAID_ONLY
    too_many_streams = cc.V2_TOO_MANY_STREAMS
    expired = cc.V2_SESSION_EXPIRED
    server_error = cc.V2_SERVER_ERROR
    idle = cc.V2_IDLE
    is_v3 = False

    def parse_query(self, query: Mapping[str, str], partial_interval_ms: int) -> StreamOptions:
        sample_rate = parse_int(query.get("sample_rate"))
        if sample_rate is None or not 0 < sample_rate <= MAX_SAMPLE_RATE:
            raise Refused(cc.V2_BAD_SAMPLE_RATE)
        encoding = query.get("encoding") or "pcm_s16le"
        if encoding not in ENCODINGS:
            raise Refused(cc.V2_BAD_ENCODING)
        boost: list[str] = []
        if query.get("word_boost"):
            raw = query["word_boost"]
            parsed = parse_string_list(raw) if len(raw) <= MAX_WORD_BOOST_CHARS else None
            if parsed is None:
                raise Refused(cc.V2_BAD_WORD_BOOST)
            boost = parsed
        partials_off = parse_bool(query.get("disable_partial_transcripts"))
        information = parse_bool(query.get("enable_extra_session_information"))
        if partials_off is None or information is None:
            raise Refused(cc.V2_BAD_SCHEMA)
        return StreamOptions(
            sample_rate=sample_rate,
            encoding=encoding,
            turn=TurnConfig(
                min_silence_ms=DEFAULT_SILENCE_MS,
                max_silence_ms=DEFAULT_SILENCE_MS,
                partials=not partials_off,
                partial_interval_ms=partial_interval_ms,
            ),
            hotwords=boost,
            session_information=bool(information),
        )

    def paid_only_message(self) -> dict[str, Any] | None:
        return {"error": cc.PAID_ONLY}  # the full text; the close reason must fit in 123 bytes

    def begin(self, session_id: str, expires_at: float, stream: StreamOptions) -> dict[str, Any]:
        expires = datetime.fromtimestamp(expires_at, tz=timezone.utc).replace(tzinfo=None)
        return {
            "message_type": "SessionBegins",
            "session_id": session_id,
            "expires_at": expires.isoformat(timespec="microseconds"),
        }

    def parse_message(self, text: str) -> Control:
        try:
            data = json.loads(text)
        except ValueError:
            raise Refused(cc.V2_BAD_JSON) from None
        if not isinstance(data, dict) or len(data) != 1:
            raise Refused(cc.V2_BAD_SCHEMA)
        (key, value), = data.items()
        if key == "audio_data" and isinstance(value, str):
            try:
                return Control(audio=base64.b64decode(value, validate=True))
            except (binascii.Error, ValueError):
                raise Refused(cc.V2_BAD_SCHEMA) from None
        if key == "force_end_utterance" and value is True:
            return Control(force_end=True)
        if key == "terminate_session" and value is True:
            return Control(terminate=True)
        if (
            key == "end_utterance_silence_threshold"
            and isinstance(value, int)
            and not isinstance(value, bool)
            and 0 <= value <= MAX_SILENCE_MS
        ):
            return Control(turn_update={"min_silence_ms": value, "max_silence_ms": value})
        raise Refused(cc.V2_BAD_SCHEMA)

    def error_message(self, close: cc.Close) -> dict[str, Any] | None:
        return None  # v2 reports errors by the close alone (docs/compatibility.md#v2-close-codes)

    def render(self, event: Event, stream: StreamOptions) -> list[dict[str, Any]]:
        final = isinstance(event, Final)
        words = event.words
        if not words:
            return []
        shown = [(w, w.text if final else plain(w.text)) for w in words]
        shown = [(w, text) for w, text in shown if text]
        message: dict[str, Any] = {
            "message_type": "FinalTranscript" if final else "PartialTranscript",
            "audio_start": words[0].start,
            "audio_end": words[-1].end,
            "confidence": mean_confidence(words),
            "text": formatted_text(words) if final else " ".join(text for _, text in shown),
            "words": [
                {"start": w.start, "end": w.end, "confidence": w.confidence, "text": text}
                for w, text in shown
            ],
            "created": _now_iso(),
        }
        if final:
            message["punctuated"] = True
            message["text_formatted"] = True
        return [message]

    def chunk_too_short(self, ms: float) -> cc.Close:
        return cc.V2_AUDIO_TOO_SHORT

    def chunk_too_long(self, ms: float) -> cc.Close:
        return cc.V2_AUDIO_TOO_LONG

    def too_fast(self, audio_s: float, wall_s: float) -> cc.Close:
        return cc.V2_TOO_FAST

    def termination(self, audio_s: float, session_s: float, stream: StreamOptions) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        if stream.session_information:
            info = {"message_type": "SessionInformation", "audio_duration_seconds": round(audio_s, 3)}
            messages.append(info)
        return [*messages, {"message_type": "SessionTerminated"}]
