"""What `/openapi.json` says about the API routes, kept equal to the official spec's names.

The routes validate by hand with the API's wording, so FastAPI never sees their query parameters or body
types; these helpers document them instead (tests/test_conformance.py compares the result with the spec).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ApiErrorBody(BaseModel):
    """Every error: `{"error": "<message>"}` [OA `#/components/schemas/Error`]."""

    error: str


SPEC_ERRORS = (400, 401, 404, 429, 500)  # declared by every REST operation of the spec, and sent


def api_errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Documented error statuses (default: SPEC_ERRORS), plus `4XX`: every client error has this body, and
    declaring it keeps FastAPI from advertising a 422, which this server never sends
    (docs/compatibility.md#http-errors)."""
    keys: list[int | str] = [*sorted(codes or SPEC_ERRORS), "4XX"]
    return {code: {"model": ApiErrorBody, "description": "Error"} for code in keys}


def query(name: str, schema: dict[str, Any], *, required: bool = False, **extra: Any) -> dict[str, Any]:
    """One documented query parameter, for `openapi_extra={"parameters": [...]}`."""
    return {"name": name, "in": "query", "required": required, "schema": schema, **extra}
