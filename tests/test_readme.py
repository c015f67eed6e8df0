"""The README's snippets work: each fenced block is run against a live server or checked, as its tag says.

A block is tagged by the HTML comment on the line above it (invisible on GitHub):

- `run-python`: run with the official SDK against a live mock-engine server;
- `run-sh`: run with bash (`-euo pipefail`) against the same server;
- `ci-env`: the CI section's server settings; the CI server of this test is started with them;
- `faults-file`: the CI section's `faults.yml`, loaded by that server;
- `check-sh`: commands that start servers or install things, so not run: every `localscribe` subcommand and
  option must exist, every `LOCALSCRIBE_*` name must be a setting that accepts the value shown, every `make`
  target must exist, and `docker compose` must find its file.

Snippets read the server's address and key from `ASSEMBLYAI_BASE_URL` / `ASSEMBLYAI_API_KEY` (the SDK's own
environment variables) with the documented defaults, so they stay copy-pasteable; they run in the test audio
folder (`tests/data`), where `jfk.flac` is.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from server.cli.main import app as cli_app
from server.config import Settings
from tests.conftest import StartServer
from tests.support.server import API_KEY, ServerProcess
from tests.support.spec import AUDIO

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
KINDS = {"run-python", "run-sh", "ci-env", "faults-file", "check-sh"}
TAGGED = re.compile(r"^<!-- readme-test: ([\w-]+) -->\n```(\w+)\n(.*?)^```", re.M | re.S)


@dataclass(frozen=True)
class Snippet:
    kind: str
    lang: str
    code: str
    section: str  # the `## ` heading above it
    line: int

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.kind})"


def snippets() -> list[Snippet]:
    text = README.read_text()
    found = []
    for m in TAGGED.finditer(text):
        headings = re.findall(r"^## (.+)$", text[: m.start()], re.M)
        line = text.count("\n", 0, m.start()) + 2
        found.append(Snippet(m.group(1), m.group(2), m.group(3), headings[-1] if headings else "", line))
    return found


def of_kind(*kinds: str) -> list[Any]:
    return [pytest.param(s, id=f"line{s.line}") for s in snippets() if s.kind in kinds]


def is_ci(snippet: Snippet) -> bool:
    return snippet.section.startswith("2.")


# --- structure ---------------------------------------------------------------------------------------------
def test_readme_opens_with_make_run_and_make_test() -> None:
    text = README.read_text()
    first = re.search(r"```sh\n(.*?)```", text, re.S)
    assert first and text[: first.start()].strip() == "# LocalScribe"
    commands = [line.split("#")[0].strip() for line in first.group(1).splitlines()]
    assert commands == ["make run", "make test"]
    targets = re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M)
    assert {"run", "test"} <= set(targets)


def test_every_snippet_is_tagged() -> None:
    """Apart from the opening commands, no block escapes the tests: a new snippet must choose a tag."""
    text = README.read_text()
    openers = [line for line in text.splitlines() if re.match(r"^```\w", line)]
    tagged = snippets()
    assert len(openers) == 1 + len(tagged), "a fenced block without a `<!-- readme-test: … -->` tag"
    assert {s.kind for s in tagged} <= KINDS
    assert {s.kind for s in tagged} == KINDS, "every kind is used (a tag that no longer tests anything?)"


def test_relative_links_point_at_files() -> None:
    links = re.findall(r"\]\((?!https?://|#)([^)]+)\)", README.read_text())
    assert links and [link for link in links if not (ROOT / link).exists()] == []


# --- check-sh: commands that cannot run in a test ---------------------------------------------------------
def logical_lines(code: str) -> list[list[str]]:
    """Shell words per command line: continuations joined, comments dropped, a trailing `&` removed."""
    lines = []
    for line in code.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words and words[-1] == "&":
            words = words[:-1]
        if words:
            lines.append(words)
    return lines


def check_settings(assignments: dict[str, str]) -> None:
    """Each LOCALSCRIBE_* name is a Settings field and the value shown is one it accepts."""
    for name, value in assignments.items():
        assert name.startswith("LOCALSCRIBE_"), f"{name}: not a LocalScribe setting"
        field = name.removeprefix("LOCALSCRIBE_").lower()
        assert field in Settings.model_fields, f"{name} is not a setting (server/config.py)"
        Settings.model_validate({field: value})  # raises if the README shows a value it refuses


def check_cli(args: list[str]) -> None:
    """`localscribe <group> <command> [args] [--options]`: the command and every option exist.

    Typer builds on its own copy of click, so commands are told apart by what they have, not their class.
    """
    command: Any = typer.main.get_command(cli_app)
    path = ["localscribe"]
    while hasattr(command, "commands") and args and args[0] in command.commands:
        command = command.commands[args[0]]
        path.append(args.pop(0))
    name = " ".join(path)
    assert not hasattr(command, "commands"), f"`{name}` needs a subcommand"
    options = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    unknown = [a.split("=")[0] for a in args if a.startswith("-") and a.split("=")[0] not in options]
    assert unknown == [], f"`{name}` has no option {unknown}"
    flags = {o for p in command.params if getattr(p, "is_flag", False) for o in (*p.opts, *p.secondary_opts)}
    values = [a for i, a in enumerate(args) if not a.startswith("-") and not _is_option_value(args, i, flags)]
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    assert len(values) <= len(arguments), f"`{name}` takes no argument {values}"


def _is_option_value(args: list[str], i: int, flags: set[str]) -> bool:
    return i > 0 and args[i - 1].startswith("-") and "=" not in args[i - 1] and args[i - 1] not in flags


def check_command(words: list[str]) -> None:
    if words[0] == "export":
        words = words[1:]
    assignments = {}
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        name, value = words.pop(0).split("=", 1)
        assignments[name] = value
    check_settings(assignments)
    if not words:
        return
    if words[0] in ("localscribe", ".venv/bin/localscribe"):
        check_cli(words[1:])
    elif words[0] == "make":
        targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
        assert set(words[1:]) <= targets, words
    elif words[:3] == ["docker", "compose", "up"]:
        compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
        assert {"postgres", "api"} <= set(compose["services"])
        built = [name for name, service in compose["services"].items() if "build" in service]
        assert "--build" not in words or built, "nothing for --build to build"
    elif words[0] == ".venv/bin/pytest":
        markers = re.findall(r'^\s+"(\w+):', (ROOT / "pyproject.toml").read_text(), re.M)
        assert words[1:] == ["-m", "not real"] and "real" in markers, words
    else:
        raise AssertionError(f"no check for `{words[0]}`: run the snippet (run-sh) or teach this test")


@pytest.mark.parametrize("snippet", of_kind("check-sh", "ci-env"))
def test_shell_snippet_names_real_commands_and_settings(snippet: Snippet) -> None:
    assert snippet.lang == "sh", snippet
    for words in logical_lines(snippet.code):
        check_command(words)


def test_the_checks_refuse_what_does_not_exist() -> None:
    """The checker above is what keeps check-sh honest, so it must fail on a typo."""
    for bad in (
        "LOCALSCRIBE_DEVICES=cuda localscribe serve",
        "LOCALSCRIBE_DEVICE=gpu localscribe serve",
        "localscribe serve --no-worker",
        "localscribe models uninstall base",
        "localscribe keys",
        "make deploy",
        "curl http://example.com",
    ):
        with pytest.raises((AssertionError, ValueError)):
            for words in logical_lines(bad):
                check_command(words)
    check_command(shlex.split("LOCALSCRIBE_WORKERS=2 localscribe serve --host 0.0.0.0 --no-workers"))


# --- run-python / run-sh: against live servers ------------------------------------------------------------
@pytest.fixture
def backend() -> str:
    """SQLite only: the snippets show the API, and the database matrix is the other suites' job."""
    return "sqlite"


def ci_settings(tmp_path: Path) -> dict[str, str]:
    """The CI section's `export` lines, with its faults file written where the server can read it."""
    (env_block,) = [s for s in snippets() if s.kind == "ci-env"]
    (faults_block,) = [s for s in snippets() if s.kind == "faults-file"]
    settings: dict[str, str] = {}
    for words in logical_lines(env_block.code):
        if words[0] == "export":
            settings.update(word.split("=", 1) for word in words[1:])
    faults = tmp_path / Path(settings["LOCALSCRIBE_FAULTS_FILE"]).name
    faults.write_text(faults_block.code)
    settings["LOCALSCRIBE_FAULTS_FILE"] = str(faults)
    return settings


def snippet_env(server: ServerProcess, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCALSCRIBE_", "ASSEMBLYAI_"))}
    env.update(
        ASSEMBLYAI_BASE_URL=server.url,
        ASSEMBLYAI_API_KEY=server.env["LOCALSCRIBE_API_KEY"],
        ASSEMBLYAI_POLLING_INTERVAL="0.2",  # the SDK's own setting; 3 s by default
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        HOME=str(tmp_path),  # the CLI client's config file, if any, is this test's own
        **extra,
    )
    return env


def run_snippet(snippet: Snippet, env: dict[str, str]) -> str:
    if snippet.lang == "python":
        cmd = [sys.executable, "-c", snippet.code]
    else:
        cmd = ["bash", "-euo", "pipefail", "-c", snippet.code]
    out = subprocess.run(cmd, cwd=AUDIO, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"{snippet} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


@pytest.mark.parametrize("snippet", of_kind("run-python", "run-sh"))
def test_runnable_snippet_works(snippet: Snippet, start_server: StartServer, tmp_path: Path) -> None:
    if "curl " in snippet.code and shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    if is_ci(snippet):
        settings = ci_settings(tmp_path)
        server = start_server(**settings)
        env = snippet_env(server, tmp_path, LOCALSCRIBE_ADMIN_TOKEN=settings["LOCALSCRIBE_ADMIN_TOKEN"])
    else:
        server = start_server(LOCALSCRIBE_API_KEY=API_KEY)
        env = snippet_env(server, tmp_path)
    out = run_snippet(snippet, env)
    # the snippets assert what they promise themselves; this checks they reached a transcript at all
    said = "Hello from the fake API." if is_ci(snippet) else "The quick brown fox"
    assert said in out or "/admin/" in snippet.code, out
