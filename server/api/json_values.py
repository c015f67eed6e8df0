"""Every JSON body the API parses goes through `parse_json`: values no database or engine below may choke on
are refused here, once, with the API's 400 (docs/security.md "Hostile JSON values").

`json.loads` alone takes what Python can represent but the layers below cannot: NaN and Infinity (not JSON
at all; a later response cannot even be serialised), lone UTF-16 surrogates (`"\\ud800"`: no UTF-8 form, so
PostgreSQL and the JSON encoder fail), integers beyond what a database column or a C library holds, and
nesting deep enough to exhaust the recursion limit. Without this check they surfaced as 500s or dropped
connections, some only on PostgreSQL.

NUL characters are valid JSON and a JSON column holds them on both databases, so a transcript request may
carry them where they stay JSON (`custom_spelling`, `word_boost`…); the fields that leave JSON (URLs, webhook
header name and value) refuse them in their own validators (services/transcript_params.py). Bodies that
become text columns as a whole (`/admin`) are parsed with `text_columns=True`, which refuses NUL anywhere.
"""

from __future__ import annotations

import json
import math
from typing import Any

from server import errors
from server.errors import ApiError

MAX_DEPTH = 32  # the API's deepest body (speech_understanding.request.translation...) nests 4 levels
# I-JSON (RFC 7493 docs/compatibility.md#transcript-params): integers beyond ±(2^53 - 1) do not survive every
# JSON implementation, and every integer the API takes (milliseconds, counts, limits) is far smaller.
MAX_SAFE_INTEGER = 2**53 - 1


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes | str, *, text_columns: bool = False) -> Any:
    """The body as Python values, or ApiError(400) when it is not JSON every layer can hold."""
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, errors.INVALID_JSON) from None
    check_json_value(value, text_columns=text_columns)
    return value


def check_json_value(value: Any, *, text_columns: bool = False) -> None:
    """Walk the value iteratively (no recursion to exhaust) and refuse the first hostile part in it.

    `text_columns`: every string will be stored in a text column, where PostgreSQL refuses NUL."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ApiError(400, errors.INVALID_JSON)
        if isinstance(item, str):
            _check_string(item, path, text_columns)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) > MAX_SAFE_INTEGER:
                raise ApiError(400, errors.JSON_NUMBER_TOO_LARGE.format(param=path or "request"))
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ApiError(400, errors.JSON_NUMBER_TOO_LARGE.format(param=path or "request"))
        elif isinstance(item, dict):
            for key, child in item.items():
                if not _clean(key):
                    raise ApiError(400, errors.INVALID_JSON)
                stack.append((child, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))


def _clean(text: str) -> bool:
    return "\x00" not in text and _encodable(text)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _check_string(text: str, path: str, text_columns: bool) -> None:
    if not _encodable(text):
        raise ApiError(400, errors.INVALID_JSON)
    if text_columns and "\x00" in text:
        raise ApiError(400, errors.JSON_NUL_CHARACTER.format(param=path or "request"))
