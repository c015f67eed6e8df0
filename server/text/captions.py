"""Build SRT and WebVTT subtitles (the `/srt` and `/vtt` exports) from word timestamps.

Cue splitting is undocumented by AssemblyAI; docs/compatibility.md#exports CHOICE: by default a cue holds the
words up to a sentence end, split further so no cue passes DEFAULT_CHARS_PER_CAPTION characters; with
`chars_per_caption` ("maximum number of characters per caption") cues are packed greedily up to that
length, across sentence ends.
"""

from __future__ import annotations

from server.text.sentences import split_sentences
from server.text.types import Word

DEFAULT_CHARS_PER_CAPTION = 80


def _clean(text: str) -> str:
    # A cue's text must be one line and must not contain the timing arrow.
    return " ".join(text.split()).replace("-->", "->")


def _pack(words: list[Word], limit: int) -> list[list[Word]]:
    """Greedy packing: a cue never passes `limit` characters unless one word alone does."""
    cues: list[list[Word]] = []
    current: list[Word] = []
    length = 0
    for word in words:
        size = len(word["text"])
        if current and length + 1 + size > limit:
            cues.append(current)
            current, length = [], 0
        length = size if not current else length + 1 + size
        current.append(word)
    if current:
        cues.append(current)
    return cues


def _cues(words: list[Word], chars_per_caption: int | None) -> list[tuple[int, int, str]]:
    cleaned: list[Word] = []
    for w in words:
        text = _clean(w["text"])
        if text:
            c: Word = w.copy()
            c["text"] = text
            cleaned.append(c)
    if chars_per_caption is not None and chars_per_caption > 0:
        groups = _pack(cleaned, chars_per_caption)
    else:
        groups = [
            cue
            for sentence in split_sentences(cleaned)
            for cue in _pack(sentence["words"], DEFAULT_CHARS_PER_CAPTION)
        ]
    out = []
    for group in groups:
        start = max(0, int(group[0]["start"]))
        end = max(start, int(group[-1]["end"]))
        out.append((start, end, " ".join(w["text"] for w in group)))
    return out


def _split_ms(ms: int) -> tuple[int, int, int, int]:
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return hours, minutes, seconds, millis


def format_srt_time(ms: int) -> str:
    """`HH:MM:SS,mmm`."""
    h, m, s, ms_ = _split_ms(ms)
    return f"{h:02d}:{m:02d}:{s:02d},{ms_:03d}"


def format_vtt_time(ms: int) -> str:
    """`MM:SS.mmm` as in the API's example, `HH:MM:SS.mmm` once the hour is reached."""
    h, m, s, ms_ = _split_ms(ms)
    if h:
        return f"{h:02d}:{m:02d}:{s:02d}.{ms_:03d}"
    return f"{m:02d}:{s:02d}.{ms_:03d}"


def to_srt(words: list[Word], chars_per_caption: int | None = None) -> str:
    """SRT document: `N\\nHH:MM:SS,mmm --> HH:MM:SS,mmm\\n<text>\\n\\n` per cue; "" for no words."""
    return "".join(
        f"{i}\n{format_srt_time(start)} --> {format_srt_time(end)}\n{text}\n\n"
        for i, (start, end, text) in enumerate(_cues(words, chars_per_caption), start=1)
    )


def to_vtt(words: list[Word], chars_per_caption: int | None = None) -> str:
    """WebVTT document: `WEBVTT\\n\\n` then `start --> end\\n<text>\\n\\n` per cue."""
    return "WEBVTT\n\n" + "".join(
        f"{format_vtt_time(start)} --> {format_vtt_time(end)}\n{text}\n\n"
        for start, end, text in _cues(words, chars_per_caption)
    )
