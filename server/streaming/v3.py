"""Streaming v3, `/v3/ws`: Universal-Streaming and Universal-3 Pro (docs/compatibility.md#v3-streaming).

The family comes from `speech_model` (server/speech_models.py); it decides the parameters' defaults and the
turn sequence: Universal-Streaming sends growing partials and, with `format_turns`, each end of turn twice;
Universal-3 Pro sends `SpeechStarted`, partials, then exactly one formatted end of turn
(docs/compatibility.md#v3-models).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from server.engine.recognizer import Event, Final, StreamWord, TurnConfig, end_confidence
from server.languages import to_whisper_language
from server.media.pcm import ENCODINGS
from server.speech_models import (
    U3_PRO_FIXED_SILENCES,
    Family,
    is_multilingual_name,
    streaming_family,
    streaming_name,
)
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
from server.streaming.redaction import SUBSTITUTIONS

MAX_KEYTERMS = 100
MAX_KEYTERM_CHARS = 50
MAX_PROMPT_CHARS = 1750  # prompt and agent_context (docs/compatibility.md#v3-query CHOICE)
MAX_LANGUAGE_CODES = 10
API_VERSION = "2025-05-12"
UNKNOWN_SPEAKER = "UNKNOWN"  # a turn too short to attribute (docs/compatibility.md#v3-query)
U3_PRO_CONTEXT_CHARS = 1500  # carried context, ~1500 chars (docs/compatibility.md#v3-models)
# `mode` presets: min_turn_silence, max_turn_silence, interruption_delay (docs/compatibility.md#v3-models)
MODES: dict[str, tuple[int, int, int]] = {
    "min_latency": (128, 640, 0),
    "balanced": (128, 1280, 500),
    "max_accuracy": (512, 2560, 500),
}
# U3P ends a turn early only on terminal punctuation: `end_confidence` gives 0.85 there, 0.15 otherwise.
U3_PRO_PUNCTUATION_THRESHOLD = 0.5


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


def _flag(query: Mapping[str, str], name: str, default: bool = False) -> bool:
    value = parse_bool(query.get(name), default)
    if value is None:
        raise _invalid(f"{name} must be a boolean")
    return value


def _string_list(value: Any, name: str) -> list[str]:
    """A JSON array of strings, or (as some docs show) a comma-separated list
    (docs/compatibility.md#v3-query)."""
    if isinstance(value, str):
        parsed = parse_string_list(value) if value.lstrip().startswith("[") else None
        items = parsed if parsed is not None else [v.strip() for v in value.split(",") if v.strip()]
        if value.lstrip().startswith("[") and parsed is None:
            raise _invalid(f"{name} must be a JSON array of strings")
        return items
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise _invalid(f"{name} must be a JSON array of strings")
    return value


def _keyterms(value: Any) -> list[str]:
    terms = _string_list(value, "keyterms_prompt")
    if len(terms) > MAX_KEYTERMS:
        raise _invalid(f"keyterms_prompt exceeds {MAX_KEYTERMS} terms")
    return [t for t in terms if len(t) <= MAX_KEYTERM_CHARS]  # longer terms are ignored (docs)


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string")
    if len(value) > MAX_PROMPT_CHARS:
        raise _invalid(f"{name} exceeds {MAX_PROMPT_CHARS} characters")
    return value


def _language_codes(value: Any) -> list[str]:
    codes = [c.strip().lower() for c in _string_list(value, "language_codes")]
    if len(codes) > MAX_LANGUAGE_CODES or ("multi" in codes and len(codes) > 1):
        raise _invalid(f"language_codes accepts at most {MAX_LANGUAGE_CODES} codes")
    if codes == ["multi"]:
        return []  # native code-switching, as no list at all
    return [c for c in codes if to_whisper_language(c) is not None]  # "it biases, it doesn't lock"


def _mode(value: Any) -> str:
    if value not in MODES:
        raise _invalid(f"mode must be one of {', '.join(MODES)}")
    return str(value)


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
    is_v3 = True

    def __init__(self, api_version: str | None = None) -> None:
        self.api_version = api_version or API_VERSION
        self.turn_order = 0
        self.speech_started = False  # SpeechStarted already sent for the current turn (U3P)

    def parse_query(self, query: Mapping[str, str], partial_interval_ms: int) -> StreamOptions:
        sample_rate = _integer(query, "sample_rate", 1, 384_000, 16_000)
        encoding = query.get("encoding") or "pcm_s16le"
        if encoding not in ENCODINGS:
            raise _invalid(f"Unsupported encoding: {encoding}")
        model = streaming_name(query.get("speech_model"))
        pro = streaming_family(model) is Family.UNIVERSAL_3_PRO
        mode = _mode(query["mode"]) if pro and "mode" in query else None
        if pro and model in U3_PRO_FIXED_SILENCES and mode is None:
            default_min, default_max = 100, 1000
        elif pro:
            default_min, default_max, _ = MODES[mode or "balanced"]
        else:
            default_min, default_max = 400, 1280
        silence_name = (
            "min_turn_silence" if "min_turn_silence" in query else "min_end_of_turn_silence_when_confident"
        )
        min_silence = _integer(query, silence_name, 0, 10_000, default_min) or 0
        max_silence = _integer(query, "max_turn_silence", 0, 10_000, default_max) or 0
        inactivity = _integer(query, "inactivity_timeout", 5, 3600, None)
        keyterms = _keyterms(query["keyterms_prompt"]) if "keyterms_prompt" in query else []
        threshold = _number(query, "end_of_turn_confidence_threshold", 0, 1, 0.4)
        max_speakers = _integer(query, "max_speakers", 1, 10, None)
        _integer(query, "interruption_delay", 0, 1000, None)
        _integer(query, "previous_context_n_turns", 0, 100, None)
        for name in ("continuous_partials", "filter_profanity"):
            _flag(query, name)  # validated; accepted
        redact_pii = _flag(query, "redact_pii")
        raw_policies = query.get("redact_pii_policies")
        policies = _string_list(raw_policies, "redact_pii_policies") if raw_policies else []
        sub = query.get("redact_pii_sub") or "hash"
        if sub not in SUBSTITUTIONS:
            raise _invalid(f"redact_pii_sub must be one of {', '.join(SUBSTITUTIONS)}")
        codes: list[str] = []
        prompt: str | None = None
        context_turns = 3
        if pro:
            if "language_codes" in query:
                codes = _language_codes(query["language_codes"])
            elif query.get("language_code"):
                codes = _language_codes([query["language_code"]])
            prompt = _text(query["prompt"], "prompt") or None if "prompt" in query else None
            if "agent_context" in query:
                _text(query["agent_context"], "agent_context")
            context_turns = _integer(query, "previous_context_n_turns", 0, 100, 3) or 0
        return StreamOptions(
            sample_rate=sample_rate or 16_000,
            encoding=encoding,
            turn=TurnConfig(
                min_silence_ms=min_silence,
                max_silence_ms=max(max_silence, min_silence),
                confidence_threshold=U3_PRO_PUNCTUATION_THRESHOLD if pro else threshold,
                vad_threshold=_number(query, "vad_threshold", 0, 1, 0.3 if pro else 0.4),
                partial_interval_ms=partial_interval_ms,
            ),
            hotwords=keyterms,
            multilingual=is_multilingual_name(model) or query.get("language") == "multi",
            inactivity_timeout_s=float(inactivity) if inactivity else None,
            model=model,
            universal_3_pro=pro,
            mode=(mode or "balanced") if pro else None,
            format_turns=pro or _flag(query, "format_turns"),
            language_detection=_flag(query, "language_detection") and is_multilingual_name(model),
            language_codes=codes,
            prompt=prompt,
            context_turns=context_turns,
            context_chars=U3_PRO_CONTEXT_CHARS if pro else 200,
            # "false when redact_pii is true, otherwise true" (docs/compatibility.md#v3-query)
            include_partial_turns=_flag(query, "include_partial_turns", not redact_pii),
            speaker_labels=_flag(query, "speaker_labels"),
            max_speakers=max_speakers,
            redact_pii=redact_pii,
            redact_pii_policies=policies,
            redact_pii_sub=sub,
        )

    def paid_only_message(self) -> dict[str, Any] | None:
        return None

    def begin(self, session_id: str, expires_at: float, stream: StreamOptions) -> dict[str, Any]:
        return {
            "type": "Begin",
            "id": session_id,
            "expires_at": int(expires_at),
            "configuration": {"model": stream.model, "mode": stream.mode, "api_version": self.api_version},
        }

    def error_message(self, close: cc.Close) -> dict[str, Any] | None:
        """The Error frame sent immediately before an error close (docs/compatibility.md#v3-close-codes)."""
        if close.code == 1000:
            return None
        return {"type": "Error", "error_code": close.code, "error": close.reason}

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
        return self._update(data)

    def _update(self, data: dict[str, Any]) -> Control:
        """UpdateConfiguration: null = unchanged; unknown or inapplicable fields ignored
        (docs/compatibility.md#v3-messages)."""
        turn: dict[str, Any] = {}
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
            turn[field_name] = value
        stream: dict[str, Any] = {}
        if isinstance(data.get("format_turns"), bool):
            stream["format_turns"] = data["format_turns"]
        if data.get("prompt") is not None:
            stream["prompt"] = _text(data["prompt"], "prompt") or None
        if data.get("language_codes") is not None:
            stream["language_codes"] = _language_codes(data["language_codes"])
        if data.get("mode") is not None:
            mode = _mode(data["mode"])
            stream["mode"] = mode
            turn.setdefault("min_silence_ms", MODES[mode][0])
            turn.setdefault("max_silence_ms", MODES[mode][1])
        control = Control(turn_update=turn or None, stream_update=stream or None)
        if data.get("keyterms_prompt") is not None:
            control.hotwords = _keyterms(data["keyterms_prompt"])
        if data.get("agent_context") is not None:
            control.agent_context = _text(data["agent_context"], "agent_context")
        return control

    def render(self, event: Event, stream: StreamOptions) -> list[dict[str, Any]]:
        if stream.universal_3_pro:
            return self._render_u3_pro(event, stream)
        if not isinstance(event, Final):
            if not stream.include_partial_turns:
                return []
            partial = self._turn(event.words, event.stable, formatted=False)
            self._speaker(partial, None, stream)
            return [partial]
        if not event.words:
            return []  # noise that the VAD took for speech: no turn
        count = len(event.words)
        messages = [self._turn(event.words, count, final=event, stream=stream, formatted=False)]
        if stream.format_turns:
            messages.append(self._turn(event.words, count, final=event, stream=stream, formatted=True))
        self.turn_order += 1
        return messages

    def _render_u3_pro(self, event: Event, stream: StreamOptions) -> list[dict[str, Any]]:
        """SpeechStarted once, before the turn's first Turn; partials; one formatted end of turn
        (docs/compatibility.md#v3-models).

        A final without words (what the partials heard was not speech after all) ends nothing: the turn
        stays open, its SpeechStarted already sent, and the next final closes it."""
        if not event.words:
            return []
        messages: list[dict[str, Any]] = []
        if not isinstance(event, Final) and not stream.include_partial_turns:
            return []
        if not self.speech_started:
            self.speech_started = True
            onset = event.onset
            messages.append({"type": "SpeechStarted", "timestamp": onset.ms, "confidence": onset.confidence})
        if not isinstance(event, Final):
            messages.append(
                {
                    "type": "Turn",
                    "turn_order": self.turn_order,
                    "turn_is_formatted": False,
                    "end_of_turn": False,
                    "transcript": plain_text(event.words),
                    "end_of_turn_confidence": 0.0,
                    "words": self._words(event.words, final=False),
                    "utterance": "",
                }
            )
            self._speaker(messages[-1], None, stream)
            return messages
        text = formatted_text(event.words)
        message: dict[str, Any] = {
            "type": "Turn",
            "turn_order": self.turn_order,
            "turn_is_formatted": True,
            "end_of_turn": True,
            "transcript": text,
            "end_of_turn_confidence": 1.0,
            "words": self._words(event.words, final=True),
            "utterance": text,
        }
        self._language(message, event, stream)
        self._speaker(message, event, stream)
        messages.append(message)
        self.turn_order += 1
        self.speech_started = False
        return messages

    @staticmethod
    def _words(words: list[StreamWord], *, final: bool) -> list[dict[str, Any]]:
        shown = [(w, w.text if final else plain(w.text)) for w in words]
        return [
            {"text": t, "start": w.start, "end": w.end, "confidence": w.confidence, "word_is_final": final}
            for w, t in shown
            if t
        ]

    @staticmethod
    def _speaker(message: dict[str, Any], final: Final | None, stream: StreamOptions) -> None:
        """speaker_label on every Turn with speaker_labels; `speaker` on final words
        (docs/compatibility.md#v3-query)."""
        if not stream.speaker_labels:
            return
        label = (final.speaker if final is not None else None) or UNKNOWN_SPEAKER
        message["speaker_label"] = label
        if final is not None:
            for word in message["words"]:
                word["speaker"] = label

    @staticmethod
    def _language(message: dict[str, Any], final: Final, stream: StreamOptions) -> None:
        """language_code/confidence on every end of turn with language_detection, however it ended
        (docs/compatibility.md#v3-turns)."""
        if not stream.language_detection or not final.language:
            return
        message["language_code"] = final.language
        # a language the decoder was told (one steering code) is certain as far as the decoder goes
        confidence = final.language_confidence if final.language_confidence is not None else 1.0
        message["language_confidence"] = round(confidence, 4)

    def _turn(
        self,
        words: list[StreamWord],
        stable: int,
        *,
        formatted: bool,
        final: Final | None = None,
        stream: StreamOptions | None = None,
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
        if final is not None and stream is not None:
            self._language(message, final, stream)
            self._speaker(message, final, stream)
        return message

    def chunk_too_short(self, ms: float) -> cc.Close:
        return cc.V3_CHUNK_DURATION.format(ms=int(round(ms)))

    def chunk_too_long(self, ms: float) -> cc.Close:
        return cc.V3_CHUNK_DURATION.format(ms=int(round(ms)))

    def too_fast(self, audio_s: float, wall_s: float) -> cc.Close:
        return cc.V3_TOO_FAST.format(audio=audio_s, wall=wall_s)

    def termination(self, audio_s: float, session_s: float, stream: StreamOptions) -> list[dict[str, Any]]:
        return [
            {
                "type": "Termination",
                "audio_duration_seconds": int(round(audio_s)),
                "session_duration_seconds": int(round(session_s)),
            }
        ]
