"""``ledger.domain.annotations``: what an annotation changes, the metadata merge, the bound."""

from __future__ import annotations

import uuid

import pytest

from ledger import limits
from ledger.domain.annotations import (
    Annotation,
    JournalNotes,
    NotesPatch,
    annotated,
    annotation_of,
    merge_metadata,
)
from ledger.domain.journals import Journal
from ledger.errors import ValidationError
from ledger.store.mapper import MsgspecMapper

NOTES = JournalNotes(description="sale", reference="inv-1", metadata={"a": 1, "b": {"c": 2}})


def test_absent_fields_are_unchanged_and_a_named_one_changes() -> None:
    assert annotation_of(NOTES, NotesPatch(description="refund")) == Annotation(
        description_set=True, description="refund"
    )
    assert annotation_of(NOTES, NotesPatch(reference="inv-2")) == Annotation(
        reference_set=True, reference="inv-2"
    )


def test_null_clears_a_text() -> None:
    annotation = annotation_of(NOTES, NotesPatch(description=None, reference=None))
    assert annotation == Annotation(
        description_set=True, description=None, reference_set=True, reference=None
    )
    assert annotated(NOTES, annotation) == JournalNotes(
        description=None, reference=None, metadata=NOTES.metadata
    )


def test_metadata_is_merged_key_by_key_and_an_empty_string_deletes_a_key() -> None:
    merged = merge_metadata({"a": 1, "b": {"c": 2}, "d": 4}, {"a": 9, "b": {"x": 1}, "d": ""})
    # Top level only: a nested object given is the key's new value, whole.
    assert merged == {"a": 9, "b": {"x": 1}}
    assert merge_metadata({"a": 1}, {"missing": ""}) == {"a": 1}
    assert merge_metadata({"a": 1}, {}) == {"a": 1}
    # Only the empty string deletes: other falsy values are values.
    assert merge_metadata({}, {"z": 0, "f": False, "n": None}) == {"z": 0, "f": False, "n": None}


def test_the_annotation_records_the_whole_metadata_after_the_merge() -> None:
    annotation = annotation_of(NOTES, NotesPatch(metadata={"a": "", "e": 5}))
    assert annotation == Annotation(metadata={"b": {"c": 2}, "e": 5})
    assert annotated(NOTES, annotation).metadata == {"b": {"c": 2}, "e": 5}


@pytest.mark.parametrize(
    "patch",
    [
        NotesPatch(description="sale"),
        NotesPatch(reference="inv-1", metadata={"a": 1}),
        NotesPatch(metadata={}),
        NotesPatch(metadata={"missing": ""}),
    ],
)
def test_a_patch_that_changes_nothing_is_no_annotation(patch: NotesPatch) -> None:
    assert annotation_of(NOTES, patch) is None


def test_only_the_fields_that_change_are_recorded() -> None:
    annotation = annotation_of(NOTES, NotesPatch(description="sale", reference="inv-9"))
    assert annotation == Annotation(reference_set=True, reference="inv-9")


def test_an_empty_patch_is_recognised() -> None:
    assert NotesPatch().is_empty()
    assert not NotesPatch(description=None).is_empty()
    assert not NotesPatch(metadata={}).is_empty()


def test_merged_metadata_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "JOURNAL_METADATA_BYTES_MAX", 24)
    assert merge_metadata({"a": "x" * 5}, {"b": "y"}) == {"a": "xxxxx", "b": "y"}
    with pytest.raises(ValidationError) as raised:
        merge_metadata({"a": "x" * 5}, {"b": "y" * 10})
    assert raised.value.details["field"] == "metadata"
    assert raised.value.details["bytes"] > 24
    # Deleting shrinks it back under the bound.
    assert merge_metadata({"a": "x" * 30}, {"a": ""}) == {}


def test_the_event_applies_the_changed_fields_and_round_trips_the_store() -> None:
    journal_id = uuid.uuid4()
    event = Journal.JournalAnnotated(
        originator_id=journal_id,
        originator_version=2,
        timestamp=Journal.JournalAnnotated.create_timestamp(),
        tenant_id=uuid.uuid4(),
        description_set=True,
        description=None,
        reference_set=False,
        reference=None,
        metadata={"k": [1, "v"]},
    )
    mapper = MsgspecMapper()
    assert mapper.to_domain_event(mapper.to_stored_event(event)) == event

    class _Notes:
        description: str | None = "old"
        reference: str | None = "ref"
        metadata: dict[str, object] = {}

    aggregate = _Notes()
    event.apply(aggregate)
    assert (aggregate.description, aggregate.reference, aggregate.metadata) == (
        None,
        "ref",
        {"k": [1, "v"]},
    )
