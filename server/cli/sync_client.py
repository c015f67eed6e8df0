"""`localscribe sync FILE` and `localscribe dictate FILE`: one request, one transcript
(docs/compatibility.md#sync-api, docs/compatibility.md#dictation-api).

Like the rest of the client it speaks only the public HTTP API, so it works against any server that serves
the Sync and Dictation APIs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from server.cli.client import PANEL, SETTINGS, JsonOpt, KeyOpt, ServerOpt, _api, _reporting, err

DICTATION_PREFIX = "/dictation"


def _opt(*names: str, help_: str) -> Any:
    return typer.Option(*names, help=help_, show_default=False)


Languages = Annotated[list[str] | None, _opt("--language_codes", help_="Language of the audio (repeatable).")]
Keyterms = Annotated[list[str] | None, _opt("--keyterms_prompt", help_="Key term (repeatable).")]
SampleRate = Annotated[
    int | None, _opt("--sample_rate", help_="Raw PCM16 input: its rate (with --channels).")
]
Channels = Annotated[int | None, _opt("--channels", help_="Raw PCM16 input: its channel count.")]


def _config(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != [] and v is not False}


def sync(
    file: Annotated[
        Path, typer.Argument(help="A WAV file, raw PCM16 (with --sample_rate/--channels), or audio.")
    ],
    model: Annotated[str, typer.Option("--model", help="Sent as X-AAI-Model.")] = "universal-3-5-pro",
    language_codes: Languages = None,
    prompt: Annotated[str | None, _opt("--prompt", help_="Context or instruction for the decoder.")] = None,
    keyterms_prompt: Keyterms = None,
    timestamps: Annotated[bool, _opt("--timestamps", help_="Word start/end (with --json).")] = False,
    sample_rate: SampleRate = None,
    channels: Channels = None,
    json_: JsonOpt = False,
    server: ServerOpt = None,
    key: KeyOpt = None,
) -> None:
    """Transcribe a short clip (80 ms to 120 s) in one request with the Sync API."""
    config = _config(
        dict(
            language_codes=language_codes,
            prompt=prompt,
            keyterms_prompt=keyterms_prompt,
            timestamps=timestamps,
            sample_rate=sample_rate,
            channels=channels,
        )
    )
    with _reporting(), _api(server, key) as api:
        body = api.transcribe_now(file, config, model=model)
    typer.echo(json.dumps(body, indent=2, ensure_ascii=False) if json_ else body.get("text", ""))


def dictate(
    file: Annotated[
        Path, typer.Argument(help="A WAV file, raw PCM16 (with --sample_rate/--channels), or audio.")
    ],
    llm_instruction: Annotated[
        str | None, _opt("--llm_instruction", help_="Rewrite the transcript, e.g. 'Format as a list.'")
    ] = None,
    rewrite_mode: Annotated[str | None, _opt("--rewrite_mode", help_="fast or smart.")] = None,
    stt_prompt: Annotated[str | None, _opt("--stt_prompt", help_="What the audio is about.")] = None,
    language_codes: Languages = None,
    keyterms_prompt: Keyterms = None,
    sample_rate: SampleRate = None,
    channels: Channels = None,
    json_: JsonOpt = False,
    server: ServerOpt = None,
    key: KeyOpt = None,
) -> None:
    """Dictate with the Dictation API: the transcript, rewritten when --llm_instruction is given."""
    config = _config(
        dict(
            llm_instruction=llm_instruction,
            rewrite_mode=rewrite_mode,
            stt_prompt=stt_prompt,
            language_codes=language_codes,
            keyterms_prompt=keyterms_prompt,
            sample_rate=sample_rate,
            channels=channels,
        )
    )
    with _reporting(), _api(server, key) as api:
        body = api.transcribe_now(file, config, prefix=DICTATION_PREFIX)
    if json_:
        typer.echo(json.dumps(body, indent=2, ensure_ascii=False))
        return
    if body.get("llm_error"):
        err.print(f"[yellow]rewrite not made:[/yellow] {body['llm_error']}")
    final = body.get("llm_response")
    typer.echo(final if final is not None else body.get("text", ""))


def register(app: typer.Typer) -> None:
    for name, command in (("sync", sync), ("dictate", dictate)):
        app.command(name, context_settings=SETTINGS, rich_help_panel=PANEL)(command)
