"""The tenant's event feed (docs/api.md §7, ``GET /v1/events``): the log, one tenant's rows.

Events are served as stored (``state`` is the mapper's JSON, see ``ledger.store.mapper``)
with two changes: ``timestamp`` becomes the line's ``recorded_at``, and fields listed in
:data:`REDACTED_FIELDS` (digests of API key secrets) are left out of ``data``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

import msgspec

from ledger.store.database import DbSource

# Never served, though they belong to the tenant: a key's secret digest.
REDACTED_FIELDS: Final = frozenset({"secret_sha256"})

_decoder = msgspec.json.Decoder(dict[str, Any])


@dataclass(frozen=True, slots=True)
class FeedEvent:
    position: int
    type: str
    originator_id: UUID
    originator_version: int
    recorded_at: str | None
    data: dict[str, Any]


def event_type(topic: str) -> str:
    """``module:Outer.EventName`` -> ``EventName``."""
    return topic.rpartition(":")[2].rpartition(".")[2]


async def tenant_events(
    source: DbSource, tenant_id: UUID, after: int, limit: int
) -> list[FeedEvent]:
    """Up to ``limit`` of the tenant's events after position ``after``, in position order."""
    rows = await source.fetch(
        "SELECT notification_id, originator_id, originator_version, topic, state"
        " FROM ledger_events WHERE tenant_id = $1 AND notification_id > $2"
        " ORDER BY notification_id LIMIT $3",
        tenant_id,
        after,
        limit,
    )
    out: list[FeedEvent] = []
    for r in rows:
        data = _decoder.decode(r["state"])
        recorded_at = data.pop("timestamp", None)
        for name in REDACTED_FIELDS & data.keys():
            del data[name]
        out.append(
            FeedEvent(
                position=r["notification_id"],
                type=event_type(r["topic"]),
                originator_id=r["originator_id"],
                originator_version=r["originator_version"],
                recorded_at=recorded_at if isinstance(recorded_at, str) else None,
                data=data,
            )
        )
    return out
