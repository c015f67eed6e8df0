"""Turn-by-turn utterances (TranscriptUtterance) from words that carry a speaker and/or channel."""

from __future__ import annotations

from typing import Any

from server.text.formatting import join_text
from server.text.types import Word

CHANNEL_PAUSE_MS = 1000  # within one channel, a pause this long starts a new utterance


def build_utterances(words: list[Word]) -> list[dict[str, Any]]:
    """Utterances in order of their start.

    Channels are recorded apart and may overlap in time, so each channel is cut into utterances on its own
    (at pauses, and where its speaker label changes); a single-channel conversation is cut wherever the
    speaker changes.
    """
    ordered = sorted(words, key=lambda w: (w["start"], w["end"]))
    split = _by_channel if any("channel" in w for w in ordered) else _by_speaker_turn
    groups = split(ordered)
    return [_utterance(g) for g in sorted(groups, key=lambda g: g[0]["start"])]


def utterance_text(utterances: list[dict[str, Any]]) -> str:
    """The transcript text of multichannel audio: utterances interleaved by time."""
    return " ".join(u["text"] for u in utterances if u["text"])


def _by_channel(words: list[Word]) -> list[list[Word]]:
    groups: list[list[Word]] = []
    last: dict[str | None, list[Word]] = {}
    for word in words:
        channel = word.get("channel")
        current = last.get(channel)
        if (
            current is None
            or word["start"] - current[-1]["end"] >= CHANNEL_PAUSE_MS
            or word.get("speaker") != current[-1].get("speaker")  # labels within a channel: "1A", "1B"
        ):
            current = []
            groups.append(current)
            last[channel] = current
        current.append(word)
    return groups


def _by_speaker_turn(words: list[Word]) -> list[list[Word]]:
    groups: list[list[Word]] = []
    for word in words:
        if groups and groups[-1][-1].get("speaker") == word.get("speaker"):
            groups[-1].append(word)
        else:
            groups.append([word])
    return groups


def _utterance(group: list[Word]) -> dict[str, Any]:
    utterance: dict[str, Any] = {
        "confidence": round(sum(w["confidence"] for w in group) / len(group), 4),
        "start": group[0]["start"],
        "end": max(w["end"] for w in group),
        "text": join_text(group),
        "words": group,
        "speaker": group[0].get("speaker") or "A",
    }
    if "channel" in group[0]:
        utterance["channel"] = group[0]["channel"]
    return utterance
