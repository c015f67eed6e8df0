"""`/admin`: emulator controls for CI suites (accounts, keys, limits, reset, fault rules). Thin.

Absent (404) unless `LOCALSCRIBE_ADMIN_TOKEN` is set; then every call needs `Authorization: Bearer
<token>` (or the bare token). Not in the public OpenAPI schema: it is not part of the AssemblyAI API.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from server import errors
from server.api.body import read_capped
from server.api.deps import ReadDb, SettingsDep, WriteDb
from server.api.json_values import parse_json
from server.config import Settings
from server.emulator import admin, rules
from server.emulator.schema import parse_rule
from server.services.accounts import api_key_from


def is_admin(request: Request, settings: Settings) -> bool:
    """The request carries the admin token (constant-time compare)."""
    given = (api_key_from(request.headers.get("authorization")) or "").encode()
    token = settings.admin_token
    if not token:
        return False
    return secrets.compare_digest(given, token.encode())


def require_admin(request: Request, settings: SettingsDep) -> None:
    if not settings.admin_token:
        raise errors.ApiError(404, errors.NOT_FOUND)
    if not is_admin(request, settings):
        raise errors.ApiError(401, errors.ADMIN_AUTH_INVALID)


async def body(request: Request) -> Any:
    """The JSON body, capped like every other (server/api/body.py); an empty body counts as `{}` (every
    field has a default)."""
    raw = await read_capped(request, request.app.state.settings.max_json_body_bytes)
    if not raw.strip():
        return {}
    return parse_json(raw, text_columns=True)  # names and keys are text columns


router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(require_admin)])
AdminBody = Annotated[Any, Depends(body)]


@router.get("/accounts")
def list_accounts(db: ReadDb) -> dict[str, Any]:
    return {"accounts": admin.list_accounts(db)}


@router.post("/accounts", status_code=201)
def create_account(data: AdminBody, db: WriteDb, settings: SettingsDep) -> dict[str, Any]:
    return admin.create_account(db, settings, data)


@router.get("/accounts/{account_id}")
def show_account(account_id: str, db: ReadDb) -> dict[str, Any]:
    return admin.show_account(db, account_id)


@router.patch("/accounts/{account_id}")
def update_account(
    account_id: str,
    data: AdminBody,
    db: WriteDb,
    settings: SettingsDep,
) -> dict[str, Any]:
    return admin.update_account(db, settings, account_id, data)


@router.delete("/accounts/{account_id}")
def delete_account(account_id: str, db: WriteDb, settings: SettingsDep) -> dict[str, Any]:
    return admin.delete_account(db, settings, account_id)


@router.post("/accounts/{account_id}/keys", status_code=201)
def add_key(account_id: str, data: AdminBody, db: WriteDb) -> dict[str, Any]:
    return admin.add_key(db, account_id, data)


@router.delete("/keys/{key_id}")
def revoke_key(key_id: str, db: WriteDb) -> dict[str, Any]:
    return admin.revoke_key(db, key_id)


@router.post("/reset")
def reset(db: WriteDb, settings: SettingsDep) -> dict[str, Any]:
    return admin.reset(db, settings)


@router.get("/faults")
def list_faults(db: ReadDb) -> dict[str, Any]:
    return {"faults": [rules.render_rule(r) for r in rules.list_rules(db)]}


@router.post("/faults", status_code=201)
def create_fault(data: AdminBody, db: WriteDb) -> dict[str, Any]:
    return rules.render_rule(rules.add_rule(db, parse_rule(data)))


@router.get("/faults/{rule_id}")
def show_fault(rule_id: str, db: ReadDb) -> dict[str, Any]:
    return rules.render_rule(rules.get_rule(db, rule_id))


@router.delete("/faults/{rule_id}")
def delete_fault(rule_id: str, db: WriteDb) -> dict[str, Any]:
    return rules.render_rule(rules.delete_rule(db, rule_id))


@router.delete("/faults")
def delete_faults(db: WriteDb, source: str | None = None) -> dict[str, int]:
    """All rules, or only those of one `source` (`api` or `file`)."""
    return {"deleted": rules.delete_rules(db, source=source)}
