"""Prefixed public ids (``jou_…``): a reversible encoding of a UUID, one text per UUID."""

from __future__ import annotations

from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.public_ids import ALPHABET, ID_LENGTH, decode_id, encode_id

prefixes = st.sampled_from(["jou", "jli", "acc"])
bodies = st.text(alphabet=ALPHABET, min_size=ID_LENGTH, max_size=ID_LENGTH)


@given(st.uuids(), prefixes)
def test_any_uuid_round_trips(value: UUID, prefix: str) -> None:
    text = encode_id(prefix, value)
    assert text.startswith(f"{prefix}_")
    assert len(text) == len(prefix) + 1 + ID_LENGTH
    assert set(text.removeprefix(f"{prefix}_")) <= set(ALPHABET)
    assert decode_id(prefix, text) == value


@given(bodies, prefixes)
def test_every_decoded_text_is_the_encoding_of_its_uuid(body: str, prefix: str) -> None:
    decoded = decode_id(prefix, f"{prefix}_{body}")
    if decoded is not None:
        assert encode_id(prefix, decoded) == f"{prefix}_{body}"


def test_the_seed_examples_are_version_4_uuids() -> None:
    # The example ids of the manual-journal API decode to random (version 4) UUIDs: the same
    # encoding as theirs.
    for text in ("jou_33dCzmjULSzy3uaFBLfC4w", "jli_F9pi7TWN3pMh6v8a6zHan2"):
        decoded = decode_id(text[:3], text)
        assert decoded is not None
        assert decoded.version == 4
        assert encode_id(text[:3], decoded) == text


def test_the_extremes() -> None:
    assert encode_id("jou", UUID(int=0)) == "jou_" + ALPHABET[0] * ID_LENGTH
    largest = UUID(int=(1 << 128) - 1)
    assert decode_id("jou", encode_id("jou", largest)) == largest


@given(st.uuids())
def test_another_prefix_is_refused(value: UUID) -> None:
    assert decode_id("jli", encode_id("jou", value)) is None
    assert decode_id("jo", encode_id("jou", value)) is None


@given(st.uuids(), st.integers(min_value=1, max_value=ID_LENGTH))
def test_another_length_is_refused(value: UUID, cut: int) -> None:
    text = encode_id("jou", value)
    assert decode_id("jou", text[:-cut]) is None
    assert decode_id("jou", text + ALPHABET[cut % len(ALPHABET)]) is None


@pytest.mark.parametrize("char", ["0", "1", "I", "O", "l", "-", "_", "é", " "])
def test_characters_outside_the_alphabet_are_refused(char: str) -> None:
    text = encode_id("jou", UUID(int=12345))
    assert decode_id("jou", text[:-1] + char) is None


@pytest.mark.parametrize(
    "text", ["", "jou", "jou_", "33dCzmjULSzy3uaFBLfC4w", "jou33dCzmjULSzy3uaFBLfC4w"]
)
def test_texts_without_the_shape_are_refused(text: str) -> None:
    assert decode_id("jou", text) is None


def test_values_of_2_to_the_128_or_more_are_refused() -> None:
    # 22 base-57 digits reach past 2^128: those texts name no UUID.
    assert decode_id("jou", "jou_" + ALPHABET[-1] * ID_LENGTH) is None
