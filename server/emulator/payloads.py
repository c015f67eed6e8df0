"""Validate an emulator-control payload (admin API, faults file) with pydantic, failing in the API's shape."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from server import errors

M = TypeVar("M", bound=BaseModel)


def problem(exc: ValidationError) -> str:
    """The first problem as `field.path: message`: one readable line, like the API's own 400s."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "body"
    return errors.INVALID_ADMIN_FIELD.format(field=where, problem=first.get("msg", "is invalid"))


def validated(model: type[M], data: Any) -> M:
    """`data` as `model`, or ApiError 400 naming the first field that is wrong."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise errors.ApiError(400, problem(exc)) from None
