"""`localscribe transcribe|get|list|delete|config`: a transcription client in the spirit of AssemblyAI's CLI.

It speaks only the public HTTP API (`_api.Api`), so it works against any LocalScribe (or AssemblyAI-
compatible) server. Option names are the API's own (`--speaker_labels`); dashed spellings are accepted
too, because every command normalises `-` to `_` in option names. Results go to stdout, progress and
errors to stderr; exit codes are listed in `_api`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from server.cli import _client_config as cfg
from server.cli import _render as render
from server.cli._api import EXIT_USAGE, Api, ClientError, JobFailed

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

# `--no-format-text` and `--no-format_text` both reach `--no_format_text`; click normalises option
# names on both sides (declaration and command line), so help shows the API's spelling.
SETTINGS: dict[str, Any] = {"token_normalize_func": lambda name: name.replace("-", "_")}
PANEL = "Transcription client"
REQUEST = "Transcript options (the API's parameters)"


class Status(str, Enum):
    queued = "queued"
    processing = "processing"
    completed = "completed"
    error = "error"


ServerOpt = Annotated[
    str | None,
    typer.Option(
        "--server",
        help="Server URL (else $LOCALSCRIBE_CLIENT_SERVER, the config file, http://127.0.0.1:8000).",
    ),
]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--key", help="API key (else $LOCALSCRIBE_CLIENT_KEY, $ASSEMBLYAI_API_KEY, the config file)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the API's JSON body.")]
SrtOpt = Annotated[bool, typer.Option("--srt", help="Print SRT captions.")]
VttOpt = Annotated[bool, typer.Option("--vtt", help="Print WebVTT captions.")]
TextOpt = Annotated[
    bool, typer.Option("--text", help="Print the text, utterances and results (the default).")
]
PollOpt = Annotated[bool, typer.Option("--poll/--no-poll", help="Wait until the transcript is finished.")]


def _format(json_: bool, srt: bool, vtt: bool, text: bool) -> str:
    chosen = [name for name, on in (("json", json_), ("srt", srt), ("vtt", vtt), ("text", text)) if on]
    if len(chosen) > 1:
        raise typer.BadParameter(f"choose one of --{', --'.join(chosen)}")
    return chosen[0] if chosen else "text"


@contextmanager
def _reporting() -> Iterator[None]:
    """Every expected failure becomes one line on stderr and the exit code it names."""
    try:
        yield
    except ClientError as exc:
        err.print(f"[red]error:[/red] {escape(exc.message)}")
        raise typer.Exit(exc.exit_code) from None
    except cfg.ConfigError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from None


def _api(server: str | None, key: str | None) -> Api:
    resolved = cfg.resolve(server, key)
    return Api(resolved.server.value or cfg.DEFAULT_SERVER, resolved.key.value)


def _upload(api: Api, path: Path) -> str:
    if not path.is_file():
        raise ClientError(f"no such file: {path}", EXIT_USAGE)
    columns = (
        TextColumn("uploading {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    with Progress(*columns, console=err) as bar:
        task = bar.add_task(path.name, total=path.stat().st_size)
        return api.upload(path, on_progress=lambda n: bar.advance(task, n))


def _wait(api: Api, transcript_id: str) -> dict[str, Any]:
    """Poll with a spinner naming the job's status; Ctrl-C stops waiting, never the job."""
    try:
        with err.status(f"waiting for {transcript_id}") as spinner:
            return api.wait(transcript_id, on_status=lambda s: spinner.update(f"{s}… ({transcript_id})"))
    except KeyboardInterrupt:
        err.print(f"stopped waiting; the job goes on: localscribe get {transcript_id}")
        raise typer.Exit(130) from None


def _show(api: Api, transcript: dict[str, Any], fmt: str) -> None:
    """Print a transcript in the chosen format; a job that ended in error exits non-zero."""
    status = transcript.get("status")
    if fmt == "json":
        typer.echo(json.dumps(transcript, indent=2, ensure_ascii=False))
    if status == "error":
        raise JobFailed(transcript)
    if fmt == "json":
        return
    if fmt in ("srt", "vtt"):
        typer.echo(api.subtitles(transcript["id"], fmt), nl=False)
        return
    if status != "completed":
        err.print(f"transcript {transcript.get('id')} is {status}")
        return
    typer.echo(render.transcript_text(transcript))
    for block in render.extras(transcript):
        out.print()
        out.print(block)


def _request_params(values: dict[str, Any], params: list[str]) -> dict[str, Any]:
    """The request body: only what the user said (False included), then `--param key=value` verbatim."""
    body = {k: v for k, v in values.items() if v is not None and v != []}
    for item in params:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--param")
        try:
            body[name] = json.loads(raw)
        except ValueError:
            body[name] = raw
    return body


def _flag(name: str, help_: str) -> Any:
    """An off-by-default feature switch: sent only when given."""
    return typer.Option(name, help=help_, rich_help_panel=REQUEST)


def _opt(*names: str, help_: str) -> Any:
    return typer.Option(*names, help=help_, rich_help_panel=REQUEST, show_default=False)


def transcribe(
    source: Annotated[str, typer.Argument(help="A local audio/video file, or an http(s) URL to download.")],
    poll: PollOpt = True,
    json_: JsonOpt = False,
    srt: SrtOpt = False,
    vtt: VttOpt = False,
    text: TextOpt = False,
    server: ServerOpt = None,
    key: KeyOpt = None,
    language_code: Annotated[str | None, _opt("--language_code", help_="e.g. en_us, de, fr.")] = None,
    language_detection: Annotated[bool, _flag("--language_detection", "Detect the language.")] = False,
    speech_models: Annotated[
        list[str] | None, _opt("--speech_models", help_="Speech model (repeatable).")
    ] = None,
    punctuate: Annotated[bool | None, _opt("--punctuate/--no-punctuate", help_="Punctuation.")] = None,
    format_text: Annotated[
        bool | None, _opt("--format_text/--no-format_text", help_="Text formatting.")
    ] = None,
    disfluencies: Annotated[bool, _flag("--disfluencies", "Keep filler words (um, uh).")] = False,
    filter_profanity: Annotated[bool, _flag("--filter_profanity", "Mask profanity.")] = False,
    speaker_labels: Annotated[bool, _flag("--speaker_labels", "Tell speakers apart.")] = False,
    speakers_expected: Annotated[int | None, _opt("--speakers_expected", help_="Number of speakers.")] = None,
    multichannel: Annotated[bool, _flag("--multichannel", "Transcribe each channel separately.")] = False,
    auto_highlights: Annotated[bool, _flag("--auto_highlights", "Key phrases.")] = False,
    auto_chapters: Annotated[bool, _flag("--auto_chapters", "Chapters with summaries.")] = False,
    summarization: Annotated[bool, _flag("--summarization", "A summary.")] = False,
    sentiment_analysis: Annotated[bool, _flag("--sentiment_analysis", "Sentiment per sentence.")] = False,
    entity_detection: Annotated[bool, _flag("--entity_detection", "Named entities.")] = False,
    iab_categories: Annotated[bool, _flag("--iab_categories", "Topic detection.")] = False,
    content_safety: Annotated[bool, _flag("--content_safety", "Content moderation.")] = False,
    redact_pii: Annotated[bool, _flag("--redact_pii", "Redact personal data from the text.")] = False,
    redact_pii_policies: Annotated[
        list[str] | None, _opt("--redact_pii_policies", help_="PII policy (repeatable).")
    ] = None,
    word_boost: Annotated[
        list[str] | None, _opt("--word_boost", help_="Word or phrase to boost (repeatable).")
    ] = None,
    boost_param: Annotated[str | None, _opt("--boost_param", help_="low, default or high.")] = None,
    keyterms_prompt: Annotated[
        list[str] | None, _opt("--keyterms_prompt", help_="Key term (repeatable).")
    ] = None,
    audio_start_from: Annotated[int | None, _opt("--audio_start_from", help_="Start (ms).")] = None,
    audio_end_at: Annotated[int | None, _opt("--audio_end_at", help_="End (ms).")] = None,
    webhook_url: Annotated[str | None, _opt("--webhook_url", help_="Called when the job finishes.")] = None,
    webhook_auth_header_name: Annotated[
        str | None, _opt("--webhook_auth_header_name", help_="Header sent with the webhook.")
    ] = None,
    webhook_auth_header_value: Annotated[
        str | None, _opt("--webhook_auth_header_value", help_="Its value.")
    ] = None,
    param: Annotated[
        list[str] | None,
        _opt("--param", help_="Any other parameter as KEY=VALUE (VALUE read as JSON if it parses)."),
    ] = None,
) -> None:
    """Transcribe a file or URL: upload, create the job, wait for it, print the result."""
    fmt = _format(json_, srt, vtt, text)
    flags = {
        "language_detection": language_detection,
        "disfluencies": disfluencies,
        "filter_profanity": filter_profanity,
        "speaker_labels": speaker_labels,
        "multichannel": multichannel,
        "auto_highlights": auto_highlights,
        "auto_chapters": auto_chapters,
        "summarization": summarization,
        "sentiment_analysis": sentiment_analysis,
        "entity_detection": entity_detection,
        "iab_categories": iab_categories,
        "content_safety": content_safety,
        "redact_pii": redact_pii,
    }
    values: dict[str, Any] = {name: True for name, on in flags.items() if on}
    values |= {
        "language_code": language_code,
        "speech_models": speech_models,
        "punctuate": punctuate,
        "format_text": format_text,
        "speakers_expected": speakers_expected,
        "redact_pii_policies": redact_pii_policies,
        "word_boost": word_boost,
        "boost_param": boost_param,
        "keyterms_prompt": keyterms_prompt,
        "audio_start_from": audio_start_from,
        "audio_end_at": audio_end_at,
        "webhook_url": webhook_url,
        "webhook_auth_header_name": webhook_auth_header_name,
        "webhook_auth_header_value": webhook_auth_header_value,
    }
    body = _request_params(values, param or [])
    with _reporting(), _api(server, key) as api:
        is_url = source.startswith(("http://", "https://"))
        audio_url = source if is_url else _upload(api, Path(source).expanduser())
        created = api.create({"audio_url": audio_url, **body})
        if not poll:
            typer.echo(json.dumps(created, indent=2) if fmt == "json" else created["id"])
            return
        err.print(f"transcript {created['id']} {created.get('status', 'queued')}")
        _show(api, _wait(api, created["id"]), fmt)


def get(
    transcript_id: Annotated[str, typer.Argument(metavar="ID")],
    poll: PollOpt = True,
    json_: JsonOpt = False,
    srt: SrtOpt = False,
    vtt: VttOpt = False,
    text: TextOpt = False,
    server: ServerOpt = None,
    key: KeyOpt = None,
) -> None:
    """Show a transcript (waiting for it to finish unless --no-poll)."""
    fmt = _format(json_, srt, vtt, text)
    with _reporting(), _api(server, key) as api:
        transcript = api.get(transcript_id)
        if poll and transcript.get("status") not in ("completed", "error"):
            transcript = _wait(api, transcript_id)
        _show(api, transcript, fmt)


def list_(
    limit: Annotated[int | None, typer.Option("--limit", min=1, max=200, help="At most this many.")] = None,
    status: Annotated[Status | None, typer.Option("--status", help="Only transcripts in this state.")] = None,
    json_: JsonOpt = False,
    server: ServerOpt = None,
    key: KeyOpt = None,
) -> None:
    """List transcripts, newest first."""
    with _reporting(), _api(server, key) as api:
        page = api.list(limit=limit, status=status.value if status else None)
    if json_:
        typer.echo(json.dumps(page, indent=2, ensure_ascii=False))
    else:
        out.print(render.transcript_list(page))


def delete(
    transcript_id: Annotated[str, typer.Argument(metavar="ID")],
    json_: JsonOpt = False,
    server: ServerOpt = None,
    key: KeyOpt = None,
) -> None:
    """Delete a finished transcript's text and audio (the id stays, marked deleted)."""
    with _reporting(), _api(server, key) as api:
        deleted = api.delete(transcript_id)
    typer.echo(json.dumps(deleted, indent=2) if json_ else f"deleted {deleted.get('id', transcript_id)}")


def config(
    server: Annotated[str | None, typer.Option("--server", help="Store the server URL.")] = None,
    key: Annotated[str | None, typer.Option("--key", help='Store the API key ("" removes it).')] = None,
) -> None:
    """Store the client's defaults (server URL, API key); with no options, show what is in effect."""
    if server and not server.startswith(("http://", "https://")):
        raise typer.BadParameter("must start with http:// or https://", param_hint="--server")
    path = cfg.config_path()
    with _reporting():
        if server is not None or key is not None:
            cfg.save(path, {"server": server.rstrip("/") if server else server, "key": key})
            err.print(f"saved to {path}")
            return
        resolved = cfg.resolve()
    table = Table("setting", "value", "from", title=str(path), title_justify="left")
    table.add_row("server", resolved.server.value or "", resolved.server.source)
    table.add_row("key", cfg.mask(resolved.key.value), resolved.key.source)
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add the client commands to the `localscribe` app, in their own help panel."""
    for name, command in (
        ("transcribe", transcribe),
        ("get", get),
        ("list", list_),
        ("delete", delete),
        ("config", config),
    ):
        app.command(name, context_settings=SETTINGS, rich_help_panel=PANEL)(command)
