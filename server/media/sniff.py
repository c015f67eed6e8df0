"""Name a file's type the way `file(1)` does, for the "File type is <mime> (<description>)" errors.

AssemblyAI's wording comes from libmagic ("text/html (HTML document, ASCII text, ...)"), so libmagic via
`python-magic` is used when it and the system library are present. Otherwise the pure-Python `puremagic`
signature database stands in, with libmagic's words for the common non-matches (empty, text, data).
"""

from __future__ import annotations

import os
from functools import lru_cache

UNKNOWN = ("application/octet-stream", "data")
EMPTY = ("inode/x-empty", "empty")
_HEAD_BYTES = 64 * 1024


def sniff(path: str | os.PathLike[str]) -> tuple[str, str]:
    """Return ``(mime, description)`` for the file's leading bytes; never raises."""
    try:
        if os.path.getsize(path) == 0:
            return EMPTY
    except OSError:
        return UNKNOWN
    found = _sniff_libmagic(path) or _sniff_puremagic(path)
    return found or UNKNOWN


@lru_cache(maxsize=1)
def _libmagic():  # type: ignore[no-untyped-def]
    """The python-magic module, or None when it or libmagic.so is missing (both are optional)."""
    try:
        import magic  # python-magic; raises ImportError when libmagic itself is absent
    except Exception:
        return None
    return magic


def _sniff_libmagic(path: str | os.PathLike[str]) -> tuple[str, str] | None:
    magic = _libmagic()
    if magic is None:
        return None
    try:
        name = os.fspath(path)
        mime = magic.from_file(name, mime=True)
        description = magic.from_file(name)
    except Exception:
        return None
    if not mime or not description:
        return None
    return str(mime), str(description)


def _read_head(path: str | os.PathLike[str]) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(_HEAD_BYTES)
    except OSError:
        return b""


def _text_kind(head: bytes) -> str | None:
    """libmagic's words for plain text encodings, or None for binary data."""
    if not head or b"\x00" in head:
        return None
    try:
        head.decode("ascii")
        return "ASCII text"
    except UnicodeDecodeError:
        pass
    try:
        # a multi-byte character may be cut at the end of the window
        head.decode("utf-8") if len(head) < _HEAD_BYTES else head[:-4].decode("utf-8")
        return "Unicode text, UTF-8 text"
    except UnicodeDecodeError:
        return None


def _sniff_puremagic(path: str | os.PathLike[str]) -> tuple[str, str] | None:
    head = _read_head(path)
    text = _text_kind(head)
    try:
        import puremagic

        matches = puremagic.magic_string(head) if head else []  # content only, like libmagic
    except Exception:
        matches = []
    for match in matches:
        mime = getattr(match, "mime_type", "") or ""
        name = getattr(match, "name", "") or ""
        if not mime:
            continue
        if text and mime.startswith("text/"):
            name = f"{name}, {text}" if name else text
        return mime, name or mime
    if text:
        return "text/plain", text
    return None
