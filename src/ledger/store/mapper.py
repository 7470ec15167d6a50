"""A msgspec-based eventsourcing ``Mapper``: the stored format of every event.

Stored format (fixed; changing it needs a migration of every stored row):

- ``topic``: ``module:QualName`` of the event class (eventsourcing's ``get_topic``). Never
  move an event class without registering its old topic.
- ``state``: a compact UTF-8 JSON object of the event's dataclass fields except
  ``originator_id`` and ``originator_version`` (those live in their own columns).
  UUIDs, dates, datetimes (RFC 3339) and Decimals are JSON strings; msgspec Structs nest as
  objects; ``class_version`` is present only when it is greater than 1. It is at most
  ``limits.STATE_BYTES_MAX`` bytes: a larger event is refused before anything is written.

This is not the stock ``JSONTranscoder`` format (which wraps such values in
``{"_type_", "_data_"}`` objects): it is about 4x faster to encode and decode and readable
by any JSON tool. The stock eventsourcing ``Application`` reads it by setting
``MAPPER_TOPIC=ledger.store.mapper:MsgspecMapper``.

Decoding is typed: each topic gets a msgspec Struct built from the event class's field
annotations, so a UUID comes back a UUID, a Decimal a Decimal, exactly. An event stored at
an older ``class_version`` is decoded untyped, passed through the class's
``upcast_vN_vN+1`` static methods in order, then converted to the current type.
"""

from __future__ import annotations

import dataclasses
import typing
from functools import cache
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    Cipher,
    Compressor,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import get_topic, resolve_topic

from ledger import limits
from ledger.errors import PayloadTooLarge

_ID_FIELDS = frozenset({"originator_id", "originator_version"})
_encoder = msgspec.json.Encoder(decimal_format="string")
_untyped_decoder = msgspec.json.Decoder(dict[str, Any])


class _UnusedTranscoder(Transcoder):
    """Stands in for the transcoder a Mapper requires: msgspec does the transcoding."""

    def encode(self, obj: Any) -> bytes:  # pragma: no cover - never called
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:  # pragma: no cover - never called
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class _TopicCodec:
    state_type: type[msgspec.Struct]
    decoder: msgspec.json.Decoder[Any]
    field_names: tuple[str, ...]
    class_version: int


@cache
def _codec(cls: type[Any]) -> _TopicCodec:
    hints = typing.get_type_hints(cls)
    fields: list[tuple[str, Any]] = [
        (f.name, hints[f.name]) for f in dataclasses.fields(cls) if f.name not in _ID_FIELDS
    ]
    names = tuple(name for name, _ in fields)
    fields.append(("class_version", int, 1))  # type: ignore[arg-type]
    state_type = msgspec.defstruct(f"{cls.__name__}State", fields, forbid_unknown_fields=True)
    return _TopicCodec(
        state_type=state_type,
        decoder=msgspec.json.Decoder(state_type),
        field_names=names,
        class_version=getattr(cls, "class_version", 1),
    )


class MsgspecMapper(Mapper[UUID]):
    """Maps eventsourcing domain events to and from :class:`StoredEvent` with msgspec.

    Accepts (and ignores) the transcoder the stock Application passes; refuses a cipher or
    compressor, because the stored format above has none.
    """

    def __init__(
        self,
        transcoder: Transcoder | None = None,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
    ) -> None:
        if compressor is not None or cipher is not None:
            raise ValueError("MsgspecMapper stores plain JSON: no compressor or cipher")
        super().__init__(transcoder=transcoder or _UnusedTranscoder())

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        """The event in its stored format (module docstring).

        Raises:
            PayloadTooLarge: the encoded state exceeds ``limits.STATE_BYTES_MAX`` (413). The
                API's input bounds keep every event well under it (asserted in ``limits``),
                so this guards the store against a future command, not a client.
        """
        state = {k: v for k, v in vars(domain_event).items() if k not in _ID_FIELDS}
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        encoded = _encoder.encode(state)
        if len(encoded) > limits.STATE_BYTES_MAX:
            raise PayloadTooLarge(
                f"the {type(domain_event).__name__} event would be stored as {len(encoded)} "
                f"bytes, more than the {limits.STATE_BYTES_MAX} an event may take",
                {"state_bytes": len(encoded), "state_bytes_max": limits.STATE_BYTES_MAX},
            )
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(domain_event)),
            state=encoded,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        cls = resolve_topic(stored_event.topic)
        codec = _codec(cls)
        try:
            decoded = codec.decoder.decode(stored_event.state)
            stored_version = decoded.class_version
            if stored_version != codec.class_version:
                decoded = self._upcast(cls, codec, stored_event.state)
        except (msgspec.DecodeError, msgspec.ValidationError):
            try:
                decoded = self._upcast(cls, codec, stored_event.state)
            except (msgspec.DecodeError, msgspec.ValidationError, AttributeError) as e:
                raise MapperDeserialisationError(
                    f"Failed to decode event {stored_event.topic} "
                    f"{stored_event.originator_id}@{stored_event.originator_version}: {e}"
                ) from e
        state = {name: getattr(decoded, name) for name in codec.field_names}
        state["originator_id"] = stored_event.originator_id
        state["originator_version"] = stored_event.originator_version
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return typing.cast(DomainEventProtocol[UUID], event)

    @staticmethod
    def _upcast(cls: type[Any], codec: _TopicCodec, data: bytes) -> msgspec.Struct:
        raw = _untyped_decoder.decode(data)
        version = raw.pop("class_version", 1)
        if version > codec.class_version:
            raise msgspec.ValidationError(
                f"stored class_version {version} is newer than the code's {codec.class_version}"
            )
        while version < codec.class_version:
            getattr(cls, f"upcast_v{version}_v{version + 1}")(raw)
            version += 1
        raw["class_version"] = codec.class_version
        return msgspec.convert(raw, codec.state_type, strict=False)
