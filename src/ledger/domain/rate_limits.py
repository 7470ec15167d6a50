"""Request rate limits per API key: one token bucket per key (docs/api.md §1, Rate limits).

Rule: a key's bucket holds at most ``burst`` tokens and gains ``per_second`` tokens a
second; every request takes one. A request that finds less than one token is refused, and
told how long until one is there (the 429's ``Retry-After``). A refused request takes
nothing, so a client that waits as told is admitted.

Memory is bounded: buckets are kept in least-recently-used order, a bucket idle long
enough to have refilled is dropped (a full bucket and no bucket are the same thing), and
beyond ``keys_max`` the least recently used bucket is dropped even if not full (that key
starts over with a full bucket: lenient, never wrong for a key that was not limited).

Pure: the time comes from the ``clock`` the caller passes (``time.monotonic`` in the
server, a settable one in tests), never from the wall clock.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from ledger import limits


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float  # the clock reading ``tokens`` was computed at


class KeyRateLimiter:
    """Token buckets of ``burst`` tokens refilled at ``per_second``, one per key.

    ``per_second == 0`` turns limiting off: :meth:`take` always admits.
    """

    def __init__(
        self,
        per_second: int,
        burst: int,
        *,
        clock: Callable[[], float],
        keys_max: int = limits.RATE_LIMIT_KEYS_MAX,
    ) -> None:
        assert per_second >= 0
        assert burst >= 1
        assert keys_max >= 1
        self.per_second = per_second
        self.burst = burst
        self.keys_max = keys_max
        self._clock = clock
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.per_second > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: Hashable) -> float:
        """Take a token of ``key``'s bucket: 0.0 if the request is admitted, else the seconds
        until the bucket holds a token again (the request took nothing)."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        bucket = self._buckets.pop(key, None)
        tokens = float(self.burst) if bucket is None else self._refilled(bucket, now)
        self._drop_idle(now)
        if tokens >= 1.0:
            self._buckets[key] = _Bucket(tokens - 1.0, now)
            waited = 0.0
        else:
            self._buckets[key] = _Bucket(tokens, now)
            waited = (1.0 - tokens) / self.per_second
        while len(self._buckets) > self.keys_max:
            self._buckets.popitem(last=False)
        return waited

    @staticmethod
    def retry_after_seconds(wait: float) -> int:
        """A wait as the whole seconds ``Retry-After`` carries: rounded up, at least 1."""
        return max(1, math.ceil(wait))

    def _refilled(self, bucket: _Bucket, now: float) -> float:
        # max(0, ...): a clock that stepped back never takes tokens away.
        gained = max(0.0, now - bucket.at) * self.per_second
        return min(float(self.burst), bucket.tokens + gained)

    def _drop_idle(self, now: float) -> None:
        """Drop the least recently used buckets that are full again (bounded work: it stops
        at the first that is not)."""
        while self._buckets:
            key, bucket = next(iter(self._buckets.items()))
            if self._refilled(bucket, now) < self.burst:
                return
            del self._buckets[key]
