"""The process-local API key cache: bounded, least recently used out first, entries expire."""

from __future__ import annotations

import uuid

from ledger.queries.tenants import ApiKeyCache, TenantView

TENANT = TenantView(uuid.uuid4(), "acme", "Acme", "USD")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bounded_evicts_least_recently_used() -> None:
    cache = ApiKeyCache(size_max=2, ttl_seconds=60, clock=FakeClock())
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    cache.put(a, b"a", TENANT)
    cache.put(b, b"b", TENANT)
    assert cache.get(a) == (b"a", TENANT)  # a is now the most recently used
    cache.put(c, b"c", TENANT)
    assert len(cache) == 2
    assert cache.get(b) is None
    assert cache.get(a) is not None
    assert cache.get(c) is not None


def test_entries_expire_after_ttl() -> None:
    clock = FakeClock()
    cache = ApiKeyCache(size_max=10, ttl_seconds=5, clock=clock)
    key = uuid.uuid4()
    cache.put(key, b"k", TENANT)
    clock.now = 4.9
    assert cache.get(key) is not None
    clock.now = 5.0
    assert cache.get(key) is None
    assert len(cache) == 0


def test_evict() -> None:
    cache = ApiKeyCache(clock=FakeClock())
    key = uuid.uuid4()
    cache.put(key, b"k", TENANT)
    cache.evict({key, uuid.uuid4()})
    assert cache.get(key) is None
