"""The layering of docs/architecture.md, enforced over the real imports of `server/` (read with ast).

Each package or top-level module of `server/` may import only the parts of `server` listed for it in
`MAY_IMPORT`, and the pure layers (engine, media, text, intelligence) no web or SQL library. A new package
must be added here, to docs/architecture.md and to the README's layout paragraph; the tests say so.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "server"

# part of server/ -> the other parts it may import (docs/architecture.md, "Layers").
MAY_IMPORT: dict[str, frozenset[str]] = {
    # shared leaves: data and small helpers that every layer may use
    "clock": frozenset(),
    "config": frozenset(),
    "errors": frozenset(),
    "languages": frozenset(),
    "logs": frozenset(),
    "tls": frozenset({"config"}),
    "data_dir": frozenset({"config"}),  # the data directory's permissions
    "http_guard": frozenset(),  # header and body deadlines under uvicorn
    "transcript_request": frozenset(),  # the validated request, typed: jobs and intelligence read it
    "multipart": frozenset({"errors"}),  # a multipart body read as it arrives: Sync and the request journal
    # pure layers: no HTTP, no SQL
    "text": frozenset(),
    "engine": frozenset({"config", "media"}),  # media: the one SAMPLE_RATE
    "media": frozenset({"errors"}),
    "intelligence": frozenset({"text", "media", "languages", "errors", "transcript_request"}),
    # storage and work
    "db": frozenset({"clock", "config", "transcript_request"}),
    "jobs": frozenset(
        {"clock", "config", "db", "engine", "errors", "intelligence", "languages", "media", "text"}
        | {"transcript_request"}
    ),
    "speech_models": frozenset({"config", "engine"}),
    # what a request means, and the streaming sessions (they own their socket as a route does: above services)
    "services": frozenset(
        {"clock", "config", "db", "errors", "jobs", "languages", "text", "transcript_request"}
    ),
    "streaming": frozenset(
        {"clock", "config", "db", "engine", "errors", "languages", "media", "services", "speech_models"}
        | {"intelligence", "text"}
    ),
    "sync": frozenset({"config", "engine", "errors", "languages", "media", "multipart"}),
    # the emulator (fault rules, /admin, the faults file) and what test suites use (scripts, the request
    # journal, recordings): not part of the AssemblyAI API. The harness (`testing.py`, `pytest_plugin.py`)
    # imports `api` lazily: it starts a whole server. Streaming record and replay reach a session only
    # through the node (server/node.py): the emulator never imports streaming.
    "emulator": frozenset(
        {"api", "clock", "config", "db", "engine", "errors", "media", "multipart", "services"}
    ),
    "playground": frozenset({"clock", "config", "db", "jobs", "services"}),
    # one process, and its HTTP face
    # node: also the composition root of the emulator's stand-ins for jobs and streams; it tells intelligence
    # where its speaker model is cached (the models dir of its settings)
    "node": frozenset(
        {"config", "emulator", "engine", "intelligence", "jobs", "streaming", "sync", "transcript_request"}
    ),
    "api": frozenset(
        {
            "clock",
            "config",
            "data_dir",
            "db",
            "errors",
            "emulator",
            "jobs",
            "languages",
            "node",
            "playground",
            "services",
            "speech_models",
            "streaming",
            "sync",
        }
    ),
    "cli": frozenset(
        {"api", "clock", "config", "data_dir", "db", "engine", "errors", "http_guard", "logs", "node"}
        | {"services", "tls"}
    ),
}
# The HTTP layer never touches the engine or the media and text code: it goes through services.
assert not MAY_IMPORT["api"] & {"engine", "media", "text", "intelligence"}
# No sideways imports between the emulator, the jobs, the streams and Sync: the emulator's stand-ins reach
# jobs and streams through the protocols those declare (`stand_ins.py`), handed down by the node; Sync gets
# the decode scheduler as a `Decoder`; the multipart reader is a shared leaf.
assert not {"emulator", "streaming", "sync"} & (MAY_IMPORT["jobs"] | MAY_IMPORT["sync"])
assert not {"emulator", "jobs", "sync"} & MAY_IMPORT["streaming"]
assert not {"jobs", "streaming", "sync"} & MAY_IMPORT["emulator"]

PURE = ("engine", "media", "text", "intelligence")
WEB_OR_SQL = frozenset({"fastapi", "starlette", "uvicorn", "httpx", "sqlalchemy", "alembic", "psycopg"})


def _part(path: Path) -> str:
    """The part of server/ a file belongs to: its package, or its module name at the top level."""
    first = path.relative_to(SERVER).parts[0]
    return first.removesuffix(".py")


def _packages() -> list[str]:
    """Folders of server/ that hold Python code (`streaming/` is a namespace package: no __init__.py)."""
    return sorted(p.name for p in SERVER.iterdir() if p.is_dir() and any(p.glob("*.py")))


def _parts() -> set[str]:
    return {p.stem for p in SERVER.glob("*.py") if p.name != "__init__.py"} | set(_packages())


def _imports(path: Path) -> Iterator[tuple[str, int]]:
    """Absolute module names imported by a file, with line numbers (`from server import errors` included)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno
            if node.module == "server":
                for alias in node.names:
                    yield f"server.{alias.name}", node.lineno


def _server_files() -> list[Path]:
    return [p for p in sorted(SERVER.rglob("*.py")) if p.parent != SERVER or p.name != "__init__.py"]


def test_every_part_of_server_has_import_rules() -> None:
    missing = sorted(_parts() - set(MAY_IMPORT))
    assert not missing, f"add {missing} to MAY_IMPORT, docs/architecture.md and the README's layout paragraph"


def test_imports_follow_the_layers() -> None:
    wrong = []
    for path in _server_files():
        part = _part(path)
        allowed = MAY_IMPORT.get(part, frozenset()) | {part}
        for module, line in _imports(path):
            names = module.split(".")
            if names[0] == "server" and len(names) > 1 and names[1] not in allowed:
                wrong.append(f"{path.relative_to(ROOT)}:{line} {part} imports {module}")
    assert not wrong, "imports against docs/architecture.md:\n" + "\n".join(wrong)


@pytest.mark.parametrize("part", PURE)
def test_pure_layers_know_no_http_or_sql(part: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((SERVER / part).rglob("*.py"))
        for module, line in _imports(path)
        if module.split(".")[0] in WEB_OR_SQL
    ]
    assert not wrong, wrong


def _readme_layout() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^Layout: .*?(?:\n\n|\Z)", text, re.M | re.S)
    assert match, "README.md has no paragraph starting with 'Layout:'"
    return match.group(0)


def test_readme_layout_names_every_package() -> None:
    layout = _readme_layout()
    missing = [name for name in _packages() if f"`server/{name}`" not in layout]
    assert not missing, f"the README's layout paragraph does not name {missing}"


def test_architecture_page_names_every_part() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [name for name in _packages() if f"`server/{name}/`" not in page]
    missing += [name for name in sorted(_parts() - set(_packages())) if f"`server/{name}.py`" not in page]
    assert not missing, f"docs/architecture.md does not describe {missing}"


def test_files_named_on_the_architecture_page_exist() -> None:
    """The journeys name files; a renamed file must be renamed on the page too."""
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(server/[\w/]+\.py)`", page))
    assert named, "the page names no files"
    missing = sorted(name for name in named if not (ROOT / name).is_file())
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"
