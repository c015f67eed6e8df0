"""`/admin/scripts` and `/admin/requests`: scripted results and the request journal for test suites in any
language (docs/testing.md). Thin; behind the admin token like the rest of `/admin`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from server.api.deps import ReadDb, WriteDb
from server.api.routes.admin import AdminBody, require_admin
from server.emulator import scripts
from server.emulator.journal import Journal, parse_params_filter

router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(require_admin)])


@router.get("/scripts")
def list_scripts(db: ReadDb) -> dict[str, Any]:
    return {"scripts": [scripts.render_script(r) for r in scripts.list_scripts(db)]}


@router.post("/scripts", status_code=201)
def create_script(data: AdminBody, db: WriteDb) -> dict[str, Any]:
    return scripts.render_script(scripts.add_script(db, scripts.parse_script(data)))


@router.delete("/scripts/{script_id}")
def delete_script(script_id: str, db: WriteDb) -> dict[str, Any]:
    return scripts.render_script(scripts.delete_script(db, script_id))


@router.delete("/scripts")
def delete_scripts(db: WriteDb) -> dict[str, int]:
    return {"deleted": scripts.delete_scripts(db)}


def _journal(request: Request) -> Journal:
    journal: Journal = request.app.state.journal
    return journal


@router.get("/requests")
def list_requests(
    request: Request,
    account_id: str | None = None,
    method: str | None = None,
    path: str | None = None,
    kind: str | None = None,
    params: str | None = None,
) -> dict[str, Any]:
    """Journal entries, oldest first; every filter given must hold (`path`: a shell glob; `params`: a JSON
    object the entry's parameters contain)."""
    journal = _journal(request)
    found = journal.entries(
        account_id=account_id, method=method, path=path, kind=kind, params=parse_params_filter(params)
    )
    return {"requests": [e.render() for e in found], "dropped": journal.dropped}


@router.delete("/requests")
def clear_requests(request: Request) -> dict[str, bool]:
    _journal(request).clear()
    return {"cleared": True}
