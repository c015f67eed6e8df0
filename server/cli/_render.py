"""How the client shows a transcript to a person: pure functions from API bodies to text or rich tables.

Transcript text is always wrapped in `Text` (never parsed as rich markup), so words such as
"[laughter]" reach the screen untouched.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text


def clock(ms: int | None) -> str:
    """Milliseconds as `MM:SS` (or `H:MM:SS` past the hour)."""
    seconds = int(ms or 0) // 1000
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def speaker_name(utterance: dict[str, Any]) -> str:
    """`Speaker A`; `Channel 2` for multichannel audio without diarization."""
    if utterance.get("speaker"):
        return f"Speaker {utterance['speaker']}"
    if utterance.get("channel"):
        return f"Channel {utterance['channel']}"
    return "Speaker ?"


def transcript_text(transcript: dict[str, Any]) -> str:
    """One line per utterance when the API returned them (speaker labels, multichannel), else the text."""
    utterances = transcript.get("utterances")
    if utterances:
        return "\n".join(f"{speaker_name(u)}: {u.get('text', '')}" for u in utterances)
    return transcript.get("text") or ""


def highlights(result: dict[str, Any] | None) -> RenderableType:
    """Key phrases, most relevant first."""
    if not result or result.get("status") != "success":
        return Text("Highlights are unavailable for this transcript.")
    table = Table("count", "rank", "text", title="Highlights", title_justify="left")
    for item in sorted(result.get("results") or [], key=lambda r: r.get("rank", 0), reverse=True):
        table.add_row(str(item.get("count", "")), f"{item.get('rank', 0):.2f}", Text(item.get("text", "")))
    return table


def chapters(items: list[dict[str, Any]]) -> RenderableType:
    table = Table("start", "end", "headline", title="Chapters", title_justify="left")
    for c in items:
        table.add_row(
            clock(c.get("start")), clock(c.get("end")), Text(c.get("headline") or c.get("gist", ""))
        )
    return table


def entities(items: list[dict[str, Any]]) -> RenderableType:
    table = Table("start", "type", "text", title="Entities", title_justify="left")
    for e in items:
        table.add_row(clock(e.get("start")), Text(e.get("entity_type", "")), Text(e.get("text", "")))
    return table


def sentiment(items: list[dict[str, Any]]) -> RenderableType:
    table = Table("start", "sentiment", "text", title="Sentiment", title_justify="left")
    for s in items:
        table.add_row(clock(s.get("start")), Text(s.get("sentiment", "")), Text(s.get("text", "")))
    return table


def extras(transcript: dict[str, Any]) -> list[RenderableType]:
    """What audio intelligence added, in the order the request flags read; only what was asked for."""
    out: list[RenderableType] = []
    if transcript.get("auto_highlights"):
        out.append(highlights(transcript.get("auto_highlights_result")))
    if transcript.get("summary"):
        out.append(Group(Text("Summary", style="bold"), Text(transcript["summary"])))
    if transcript.get("chapters"):
        out.append(chapters(transcript["chapters"]))
    if transcript.get("entities"):
        out.append(entities(transcript["entities"]))
    if transcript.get("sentiment_analysis_results"):
        out.append(sentiment(transcript["sentiment_analysis_results"]))
    return out


def transcript_list(page: dict[str, Any]) -> Table:
    """`GET /v2/transcript` as a table, newest first as the API sends it."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("id", no_wrap=True, min_width=36)  # ids are for copying: never cut
    table.add_column("status", no_wrap=True, min_width=10)
    table.add_column("created", no_wrap=True, min_width=16)
    table.add_column("audio_url", overflow="ellipsis")  # the one column that gives way
    for item in page.get("transcripts") or []:
        status = Text(item.get("status", ""), style=_STATUS_STYLE.get(item.get("status", ""), ""))
        created = (item.get("created") or "").replace("T", " ")[:16]
        table.add_row(item.get("id", ""), status, created, Text(item.get("audio_url") or ""))
    return table


_STATUS_STYLE = {"completed": "green", "error": "red", "processing": "yellow", "queued": "cyan"}
