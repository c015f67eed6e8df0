"""Database work of requests runs here: off the event loop, at most `db_pool_size` units at once.

A unit is one function that opens its own short transaction (`session_scope`), does everything the request
needs from the database, and closes it before returning (issue 19). Requests over the bound wait here, on
the event loop, holding no connection, so the pool never runs dry and no request waits for a connection
while it holds another.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from starlette.types import Scope

T = TypeVar("T")


def install(state: Any, size: int) -> None:
    """Made at start-up, inside the event loop that will use it."""
    state.db_limiter = CapacityLimiter(size)


async def run_db(scope: Scope, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn(*args, **kwargs)` in a worker thread under the app's database bound."""
    limiter = getattr(scope["app"].state, "db_limiter", None)
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs), limiter=limiter)
