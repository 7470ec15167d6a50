"""Annotating a journal: what ``PATCH /v1/journals/{id}`` may change, as pure functions.

An annotation changes a journal's notes (``description``, ``reference``, ``metadata``) and
nothing else: no entry, amount, date or status, so no money moves and nothing is reposted.
It is one ``Journal.JournalAnnotated`` event holding only the fields that changed.

Rules (docs/api.md §5, "Annotations"):

- A field the request does not name is unchanged; ``null`` clears ``description`` or
  ``reference``. The bounds are those of ``POST /v1/journals`` (checked on the wire).
- ``metadata`` is **merged**, key by key, at the top level (Modern Treasury's rule): a key
  given a value gets it (a nested object is replaced whole), a key given ``""`` is deleted,
  keys not named keep their value. ``{}`` changes nothing. The result, JSON-encoded, is at
  most ``limits.JOURNAL_METADATA_BYTES_MAX`` bytes (else 400).
- Any status may be annotated: a voided or reversed journal's notes can still be corrected.
- A request whose values equal the current ones changes nothing: no event
  (:func:`annotation_of` answers None).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import msgspec
from msgspec import UNSET, UnsetType

from ledger import limits
from ledger.errors import ValidationError

# The metadata value that deletes its key.
DELETE_KEY: Final = ""

_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, kw_only=True)
class JournalNotes:
    """A journal's annotatable fields as they are now."""

    description: str | None
    reference: str | None
    metadata: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class NotesPatch:
    """What an annotation request asks (UNSET: not named; ``None`` clears a text)."""

    description: str | UnsetType | None = UNSET
    reference: str | UnsetType | None = UNSET
    metadata: dict[str, Any] | UnsetType = UNSET

    def is_empty(self) -> bool:
        return self.description is UNSET and self.reference is UNSET and self.metadata is UNSET


@dataclass(frozen=True, kw_only=True)
class Annotation:
    """What ``JournalAnnotated`` records: the changed fields (``*_set``: the text changed;
    ``metadata``: the whole new metadata, None when it did not change)."""

    description_set: bool = False
    description: str | None = None
    reference_set: bool = False
    reference: str | None = None
    metadata: dict[str, Any] | None = None


def merge_metadata(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``current`` with ``patch``'s keys merged in: set, or deleted when given ``""``.

    Raises:
        ValidationError: the result is larger than ``limits.JOURNAL_METADATA_BYTES_MAX``
            bytes of JSON (400, ``details.field`` ``metadata``).
    """
    merged = dict(current)
    for key, value in patch.items():
        if value == DELETE_KEY:
            merged.pop(key, None)
        else:
            merged[key] = value
    size = len(_encoder.encode(merged))
    if size > limits.JOURNAL_METADATA_BYTES_MAX:
        raise ValidationError(
            f"the journal's metadata would be {size} bytes of JSON after the merge, more than"
            f" {limits.JOURNAL_METADATA_BYTES_MAX}",
            {
                "field": "metadata",
                "bytes": size,
                "bytes_max": limits.JOURNAL_METADATA_BYTES_MAX,
            },
        )
    return merged


def _text_change(new: str | UnsetType | None, old: str | None) -> tuple[bool, str | None]:
    """(changed, new value) of an annotatable text."""
    if isinstance(new, UnsetType) or new == old:
        return False, None
    return True, new


def annotation_of(current: JournalNotes, patch: NotesPatch) -> Annotation | None:
    """What ``patch`` changes in ``current``, or None when it changes nothing.

    Raises:
        ValidationError: the merged metadata is too large (:func:`merge_metadata`).
    """
    description_set, description = _text_change(patch.description, current.description)
    reference_set, reference = _text_change(patch.reference, current.reference)
    metadata = None
    if not isinstance(patch.metadata, UnsetType):
        merged = merge_metadata(current.metadata, patch.metadata)
        metadata = merged if merged != current.metadata else None
    if not (description_set or reference_set or metadata is not None):
        return None
    return Annotation(
        description_set=description_set,
        description=description,
        reference_set=reference_set,
        reference=reference,
        metadata=metadata,
    )


def annotated(current: JournalNotes, annotation: Annotation) -> JournalNotes:
    """The notes after ``annotation`` (the fold every reader of ``JournalAnnotated`` does)."""
    return JournalNotes(
        description=annotation.description if annotation.description_set else current.description,
        reference=annotation.reference if annotation.reference_set else current.reference,
        metadata=current.metadata if annotation.metadata is None else annotation.metadata,
    )
