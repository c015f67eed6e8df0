"""Every failure leaves as the API's JSON: `{"error": "..."}` with the API's status code."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from server import errors

log = logging.getLogger(__name__)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def problem_response(problem: errors.Problem) -> JSONResponse:
    """The Sync and Dictation APIs' RFC 9457 body (docs/compatibility.md#sync-api)."""
    body = {"status": problem.status, "title": problem.title, "detail": problem.detail}
    return JSONResponse(body, problem.status, problem.headers, media_type="application/problem+json")


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.ApiError)
    async def _api_error(_: Request, exc: errors.ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
        message = errors.NOT_FOUND if exc.status_code == 404 else str(exc.detail)
        return error_response(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Routes validate by hand with the API's wording; this is a safety net so a 422 never escapes.
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return error_response(400, f"{field} is invalid")

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, errors.SERVER_ERROR)
