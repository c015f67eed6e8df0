"""What both of the engine's faster-whisper file paths (sequential and batched) pass in and take out, in one
place, so that an option reaches both or neither."""

from __future__ import annotations

from typing import Any

from server.engine.base import EngineWord, TranscribeOptions


def common_arguments(options: TranscribeOptions) -> dict[str, Any]:
    """The keyword arguments `WhisperModel.transcribe` and `BatchedInferencePipeline.transcribe` share."""
    return {
        "language": options.language,
        "task": options.task,
        "word_timestamps": True,
        "hotwords": " ".join(options.hotwords) or None,
        "initial_prompt": options.prompt,
    }


def segment_words(segment: Any) -> list[EngineWord]:
    """A decoded segment's words, stripped of whisper's leading space; empty ones dropped."""
    return [
        EngineWord(w.word.strip(), float(w.start), float(w.end), float(w.probability))
        for w in segment.words or []
        if w.word.strip()
    ]
