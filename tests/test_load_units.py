"""Units behind issue 19: the caches that keep requests off the database stay correct."""

from __future__ import annotations

import time

from server.emulator.http_rules import HttpFault, RuleCache
from server.services.accounts import AccountRef, KeyCache
from server.services.rendered_cache import RenderedCache, dumps

RULE = HttpFault("r1", {}, 500, 1.0, "boom", 1, False)


def test_a_rule_read_that_an_edit_overtook_is_not_kept() -> None:
    cache = RuleCache(ttl_s=60)
    generation = cache.generation()  # a reload starts reading the table …
    cache.invalidate()  # … an edit commits meanwhile …
    cache.store([RULE], generation)  # … the reload's (old) rules must not be served for the next minute
    assert cache.fresh() is None
    cache.store([RULE], cache.generation())
    assert cache.fresh() == [RULE]


def test_key_cache_expires_clears_and_stays_bounded() -> None:
    ref = AccountRef("a", "n", "paid", 32, 32)
    cache = KeyCache(ttl_s=0.05, size=2)
    cache.put("k1", ref)
    assert cache.get("k1") == ref
    assert cache.get("other") is None
    time.sleep(0.06)
    assert cache.get("k1") is None  # another process may have revoked it: ask the database again
    cache.put("k1", ref)
    cache.clear()
    assert cache.get("k1") is None
    for key in ("a", "b", "c"):
        cache.put(key, ref)
    assert cache.get("a") is None and cache.get("c") == ref


def test_rendered_json_is_served_only_for_the_same_row_state() -> None:
    cache = RenderedCache(max_bytes=1000)
    body = dumps({"id": "t", "text": "é"})
    assert body == '{"id":"t","text":"é"}'.encode()
    cache.put("t", ("completed", 1, None, None), body)
    assert cache.get("t", ("completed", 1, None, None)) == body
    assert cache.get("t", ("completed", 1, "deleted", None)) is None  # deleted since
    assert cache.get("t", ("completed", 1, None, 200)) is None  # webhook answered since
    cache.put("big", 0, b"x" * 600)  # over a quarter of the budget: not kept
    assert cache.get("big", 0) is None
    for i in range(10):
        cache.put(f"k{i}", 0, b"y" * 200)
    assert cache.get("t", ("completed", 1, None, None)) is None  # least recently used went first
    assert cache.get("k9", 0) is not None
