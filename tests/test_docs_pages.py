"""docs/compatibility.md stays in step with the tables the code runs on.

A request parameter added to `server/services/param_table.py` and not to the page (or the reverse) fails here,
and so does a close code or reason in `server/streaming/close_codes.py` that the page lists differently.
Links to the page's anchors, from the code or from the page itself, must point at an anchor that exists.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from server.services.param_table import PARAMS
from server.streaming import close_codes
from server.streaming.close_codes import Close

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "compatibility.md"
MARKS = ("real", "emulated", "not served")
CLOSE_STATUSES = ("sent", "never sent", "server library")  # only "sent" rows are LocalScribe's own closes
TEXT_FILES = (".py", ".md", ".js", ".mjs", ".html", ".json", ".yml")
ANCHOR = re.compile(r'<a id="([\w-]+)"></a>')


def _page() -> str:
    return PAGE.read_text(encoding="utf-8")


def _anchors(text: str) -> set[str]:
    return set(ANCHOR.findall(text))


def _section(text: str, anchor: str) -> str:
    """The page from `anchor` up to the next anchor."""
    start = text.index(f'<a id="{anchor}"></a>')
    following = ANCHOR.search(text, start + 1)
    return text[start : following.start() if following else len(text)]


def _cells(line: str) -> list[str]:
    """A Markdown table row split on `|` outside code spans."""
    cells, current, in_code = [], [], False
    for char in line.strip().strip("|"):
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            cells.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    cells.append("".join(current).strip())
    return cells


def _rows(section: str) -> list[list[str]]:
    """The body rows of the first table in `section` (header and separator left out)."""
    lines = section.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[first:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return [_cells(line) for line in table[2:]]


def _code(cell: str) -> str:
    """The text of a cell that is one code span."""
    match = re.fullmatch(r"`([^`]+)`", cell)
    assert match, f"expected one `name` in the cell, got {cell!r}"
    return match.group(1)


# --- request parameters -----------------------------------------------------------------------------------
def _parameter_rows() -> list[list[str]]:
    return _rows(_section(_page(), "transcript-params"))


def test_every_request_parameter_has_one_row_in_table_order() -> None:
    documented = [_code(row[0]) for row in _parameter_rows()]
    missing = [name for name in PARAMS if name not in documented]
    extra = [name for name in documented if name not in PARAMS]
    assert not missing, f"in server/services/param_table.py but not on docs/compatibility.md: {missing}"
    assert not extra, f"on docs/compatibility.md but not in server/services/param_table.py: {extra}"
    assert documented == list(PARAMS), "rows must follow the table's order (the order validation runs in)"


def test_every_request_parameter_is_marked_and_explained() -> None:
    for row in _parameter_rows():
        assert len(row) == 3, row
        name, mark, what = row
        assert mark in MARKS, f"{name}: mark {mark!r} is not one of {MARKS}"
        assert what, f"{name}: say what LocalScribe does"


# --- close codes --------------------------------------------------------------------------------------------
def _placeholders_out(reason: str) -> str:
    """`{message}` in the code and `<type>` on the page both stand for a value."""
    return re.sub(r"\{[^}]*\}|<[^>]*>", "<>", reason)


def _code_closes(prefix: str) -> set[tuple[int, str]]:
    return {
        (value.code, _placeholders_out(value.reason))
        for name, value in vars(close_codes).items()
        if name.startswith(prefix) and isinstance(value, Close)
    }


def _page_closes(anchor: str) -> dict[str, set[tuple[int, str]]]:
    by_status: dict[str, set[tuple[int, str]]] = {status: set() for status in CLOSE_STATUSES}
    for row in _rows(_section(_page(), anchor)):
        code, reason, status = row[0], row[1], row[2]
        assert status in CLOSE_STATUSES, f"{code}: status {status!r} is not one of {CLOSE_STATUSES}"
        text = "" if reason == "—" else _code(reason)
        by_status[status].add((int(code), _placeholders_out(text)))
    return by_status


@pytest.mark.parametrize(("prefix", "anchor"), [("V2_", "v2-close-codes"), ("V3_", "v3-close-codes")])
def test_close_codes_match_the_code(prefix: str, anchor: str) -> None:
    page = _page_closes(anchor)
    code = _code_closes(prefix)
    assert code - page["sent"] == set(), f"in server/streaming/close_codes.py, not listed as sent: {anchor}"
    assert page["sent"] - code == set(), f"listed as sent on the page, not in close_codes.py: {anchor}"
    assert not page["never sent"] & code, "a close listed as never sent is in close_codes.py"


# --- streaming query parameters ---------------------------------------------------------------------------
def _query_names(path: Path) -> set[str]:
    """Query keys an adapter reads: `query.get("x")`, `query["x"]`, `"x" in query`, `_flag(query, "x")`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func, args = node.func, node.args
            if isinstance(func, ast.Attribute) and func.attr == "get" and _is_query(func.value) and args:
                names |= _constant(args[0])
            elif isinstance(func, ast.Name) and len(args) > 1 and _is_query(args[0]):
                names |= _constant(args[1])
        elif isinstance(node, ast.Subscript) and _is_query(node.value):
            names |= _constant(node.slice)
        elif isinstance(node, ast.Compare) and any(_is_query(c) for c in node.comparators):
            names |= _constant(node.left)
    return names


def _is_query(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "query"


def _constant(node: ast.expr) -> set[str]:
    return {node.value} if isinstance(node, ast.Constant) and isinstance(node.value, str) else set()


@pytest.mark.parametrize(("adapter", "anchor"), [("v2.py", "v2-query"), ("v3.py", "v3-query")])
def test_every_streaming_query_parameter_read_is_on_the_page(adapter: str, anchor: str) -> None:
    read = _query_names(ROOT / "server" / "streaming" / adapter)
    assert read, f"found no query parameters in server/streaming/{adapter}"
    rows = _rows(_section(_page(), anchor))
    documented = {name for row in rows for name in re.findall(r"`([^`]+)`", row[0])}
    missing = sorted(read - documented)
    assert not missing, f"server/streaming/{adapter} reads {missing}; the {anchor} table does not list them"
    for row in rows:
        assert row[1] in MARKS, f"{row[0]}: mark {row[1]!r} is not one of {MARKS}"


# --- anchors ------------------------------------------------------------------------------------------------
def test_links_into_the_page_resolve() -> None:
    """Code comments cite `docs/compatibility.md#<anchor>`; the page links to its own `#<anchor>`s."""
    anchors = _anchors(_page())
    cited: dict[str, set[str]] = {}
    for folder in ("server", "tests", "bench", "docs"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in TEXT_FILES or not path.is_file():
                continue
            text = path.read_text(encoding="utf-8", errors="ignore")
            for anchor in re.findall(r"compatibility\.md#([\w-]+)", text):
                cited.setdefault(anchor, set()).add(str(path.relative_to(ROOT)))
    for anchor in re.findall(r"\]\(#([\w-]+)\)", _page()):
        cited.setdefault(anchor, set()).add("docs/compatibility.md")
    broken = {anchor: sorted(where) for anchor, where in cited.items() if anchor not in anchors}
    assert not broken, f"links to anchors that docs/compatibility.md lacks: {broken}"


def test_anchors_are_unique() -> None:
    ids = ANCHOR.findall(_page())
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
