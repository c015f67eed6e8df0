"""Universal-Streaming v3, `/v3/ws` (CONTRACT §6)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from server.engine.streaming import Event, Final, StreamWord, TurnConfig, end_confidence
from server.media.pcm import ENCODINGS
from server.streaming import close_codes as cc
from server.streaming.protocol import (
    Control,
    Refused,
    StreamOptions,
    formatted_text,
    parse_bool,
    parse_float,
    parse_int,
    parse_string_list,
    plain,
    plain_text,
)

MULTILINGUAL_MODELS = frozenset({"universal-streaming-multilingual", "whisper-rt"})
# Every speech model the Python SDK 1.8.2 can name (CONTRACT §6.1 CHOICE: accept all).
SPEECH_MODELS = frozenset(
    {
        "universal-streaming-english",
        "universal-streaming-multilingual",
        "whisper-rt",
        "u3-rt-pro",
        "u3-rt-pro-beta-1",
        "universal-3-5-pro",
        "universal-3-6",
        "universal-3-6-pro",
        "u3-pro",
    }
)
PRO_MODELS = SPEECH_MODELS - {"universal-streaming-english", "universal-streaming-multilingual", "whisper-rt"}
MAX_KEYTERMS = 100
MAX_KEYTERM_CHARS = 50


def _invalid(message: str) -> Refused:
    return Refused(cc.V3_INVALID_MESSAGE.format(message=message))


def _number(query: Mapping[str, str], name: str, low: float, high: float, default: float) -> float:
    if name not in query:
        return default
    value = parse_float(query[name])
    if value is None or not low <= value <= high:
        raise _invalid(f"{name} must be a number between {low:g} and {high:g}")
    return value


def _integer(query: Mapping[str, str], name: str, low: int, high: int, default: int | None) -> int | None:
    if name not in query:
        return default
    value = parse_int(query[name])
    if value is None or not low <= value <= high:
        raise _invalid(f"{name} must be an integer between {low} and {high}")
    return value


def _flag(query: Mapping[str, str], name: str) -> bool:
    value = parse_bool(query.get(name))
    if value is None:
        raise _invalid(f"{name} must be a boolean")
    return value


def _keyterms(value: Any) -> list[str]:
    terms = parse_string_list(value) if isinstance(value, str) else value
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
        raise _invalid("keyterms_prompt must be a JSON array of strings")
    if len(terms) > MAX_KEYTERMS:
        raise _invalid(f"keyterms_prompt exceeds {MAX_KEYTERMS} terms")
    return [t for t in terms if len(t) <= MAX_KEYTERM_CHARS]  # longer terms are ignored (docs)


class V3Adapter:
    name = "v3"
    chunk_ms = cc.V3_CHUNK_MS
    missing_auth = cc.V3_MISSING_AUTH
    invalid_auth = cc.V3_INVALID_AUTH
    paid_only = cc.V3_PAID_ONLY
    too_many_streams = cc.V3_TOO_MANY_STREAMS
    expired = cc.V3_SESSION_EXPIRED
    server_error = cc.V3_SERVER_ERROR
    idle = None

    def __init__(self) -> None:
        self.turn_order = 0
        self.format_turns = False
        self.language_detection = False

    def parse_query(self, query: Mapping[str, str]) -> StreamOptions:
        sample_rate = _integer(query, "sample_rate", 1, 384_000, 16_000)
        encoding = query.get("encoding") or "pcm_s16le"
        if encoding not in ENCODINGS:
            raise _invalid(f"Unsupported encoding: {encoding}")
        model = query.get("speech_model") or "universal-streaming-english"
        if model not in SPEECH_MODELS:
            raise _invalid(f"Unsupported speech_model: {model}")
        pro = model in PRO_MODELS
        silence_name = (
            "min_turn_silence" if "min_turn_silence" in query else "min_end_of_turn_silence_when_confident"
        )
        min_silence = _integer(query, silence_name, 0, 10_000, 100 if pro else 400)
        max_silence = _integer(query, "max_turn_silence", 0, 10_000, 1000 if pro else 1280)
        inactivity = _integer(query, "inactivity_timeout", 5, 3600, None)
        keyterms = _keyterms(query["keyterms_prompt"]) if "keyterms_prompt" in query else []
        self.format_turns = pro or _flag(query, "format_turns")
        self.language_detection = _flag(query, "language_detection")
        _flag(query, "speaker_labels")  # validated; speaker labels are not produced by streaming here
        return StreamOptions(
            sample_rate=sample_rate or 16_000,
            encoding=encoding,
            turn=TurnConfig(
                min_silence_ms=min_silence or 0,
                max_silence_ms=max(max_silence or 0, min_silence or 0),
                confidence_threshold=_number(query, "end_of_turn_confidence_threshold", 0, 1, 0.4),
                vad_threshold=_number(query, "vad_threshold", 0, 1, 0.3 if pro else 0.4),
            ),
            hotwords=keyterms,
            multilingual=model in MULTILINGUAL_MODELS or query.get("language") == "multi",
            inactivity_timeout_s=float(inactivity) if inactivity else None,
        )

    def paid_only_message(self) -> dict[str, Any] | None:
        return None

    def begin(self, session_id: str, expires_at: float) -> dict[str, Any]:
        return {"type": "Begin", "id": session_id, "expires_at": int(expires_at)}

    def parse_message(self, text: str) -> Control:
        try:
            data = json.loads(text)
        except ValueError:
            raise Refused(cc.V3_INVALID_JSON.format(message=text)) from None
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise _invalid(text)
        kind = data["type"]
        if kind == "Terminate":
            return Control(terminate=True)
        if kind == "ForceEndpoint":
            return Control(force_end=True)
        if kind == "KeepAlive":
            return Control()
        if kind != "UpdateConfiguration":
            raise Refused(cc.V3_INVALID_TYPE.format(message=kind))
        update: dict[str, Any] = {}
        for name, field_name in (
            ("min_turn_silence", "min_silence_ms"),
            ("min_end_of_turn_silence_when_confident", "min_silence_ms"),
            ("max_turn_silence", "max_silence_ms"),
            ("end_of_turn_confidence_threshold", "confidence_threshold"),
            ("vad_threshold", "vad_threshold"),
        ):
            value = data.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise _invalid(f"{name} must be a non-negative number")
            update[field_name] = value
        control = Control(turn_update=update or None)
        if "keyterms_prompt" in data and data["keyterms_prompt"] is not None:
            control.hotwords = _keyterms(data["keyterms_prompt"])
        if isinstance(data.get("format_turns"), bool):
            self.format_turns = data["format_turns"]
        return control

    def render(self, event: Event) -> list[dict[str, Any]]:
        if not isinstance(event, Final):
            return [self._turn(event.words, event.stable, formatted=False)]
        if not event.words:
            return []  # noise that the VAD took for speech: no turn
        messages = [self._turn(event.words, len(event.words), final=event, formatted=False)]
        if self.format_turns:
            messages.append(self._turn(event.words, len(event.words), final=event, formatted=True))
        self.turn_order += 1
        return messages

    def _turn(
        self,
        words: list[StreamWord],
        stable: int,
        *,
        formatted: bool,
        final: Final | None = None,
    ) -> dict[str, Any]:
        end = final is not None
        shown = [(w, w.text if formatted else plain(w.text), i < stable) for i, w in enumerate(words)]
        message: dict[str, Any] = {
            "type": "Turn",
            "turn_order": self.turn_order,
            "turn_is_formatted": formatted,
            "end_of_turn": end,
            "transcript": formatted_text(words) if formatted else plain_text(words[:stable]),
            "end_of_turn_confidence": final.end_of_turn_confidence if final else end_confidence(words),
            "words": [
                {"text": t, "start": w.start, "end": w.end, "confidence": w.confidence, "word_is_final": done}
                for w, t, done in shown
                if t
            ],
            "utterance": formatted_text(words) if end and not formatted else "",
        }
        if final is not None and self.language_detection and final.language:
            message["language_code"] = final.language
            message["language_confidence"] = round(final.language_confidence or 0.0, 4)
        return message

    def chunk_too_short(self, ms: float) -> cc.Close:
        return cc.V3_CHUNK_DURATION.format(ms=int(round(ms)))

    def chunk_too_long(self, ms: float) -> cc.Close:
        return cc.V3_CHUNK_DURATION.format(ms=int(round(ms)))

    def too_fast(self, audio_s: float, wall_s: float) -> cc.Close:
        return cc.V3_TOO_FAST.format(audio=audio_s, wall=wall_s)

    def termination(self, audio_s: float, session_s: float) -> list[dict[str, Any]]:
        return [
            {
                "type": "Termination",
                "audio_duration_seconds": int(round(audio_s)),
                "session_duration_seconds": int(round(session_s)),
            }
        ]
