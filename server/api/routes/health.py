"""Liveness and readiness for orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from server.api.deps import SettingsDep
from server.api.routes.admin import is_admin
from server.db.session import session_scope
from server.jobs.metrics import render

router = APIRouter()


@router.get("/health", include_in_schema=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", include_in_schema=False)
def ready(request: Request) -> JSONResponse:
    checks: dict[str, bool] = {}
    try:
        with session_scope(write_lock=False) as db:
            db.execute(text("SELECT 1"))
        checks["database"] = True
    except Exception:
        checks["database"] = False
    node = request.app.state.node
    checks["model"] = node.engine_ready()
    ok = all(checks.values())
    return JSONResponse({"status": "ready" if ok else "not ready", **checks}, status_code=200 if ok else 503)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, settings: SettingsDep) -> Response:
    """Totals for anyone (a scraper usually sends no key); per-account series, which name account ids, only
    with `Authorization: Bearer <LOCALSCRIBE_ADMIN_TOKEN>`."""
    return Response(render(per_account=is_admin(request, settings)), media_type=CONTENT_TYPE_LATEST)
