"""The page envelope (``ledger.api.pages``): the bytes a Struct page would encode to."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
from litestar.serialization import encode_json

from ledger.api.pages import encode_each, encoded_page, page_answer
from ledger.api.routes.ledgers import LedgerOut, LedgerPageOut


def _ledger(num_id: int) -> LedgerOut:
    return LedgerOut(
        id=uuid.UUID(int=num_id),
        num_id=num_id,
        code=f'c\u00e9"{num_id}',
        name="Cash",
        type="asset",
        normal_balance="debit",
        parent_id=None,
        currency="USD",
        min_balance=-5,
        status="open",
        metadata={"tags": [1, None, "x\u2028"]},
        created_at=dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC),
        position=9,
    )


def test_a_page_of_structs_is_the_bytes_litestar_sends_for_the_page_struct() -> None:
    for items, cursor in (([_ledger(1), _ledger(2)], "next"), ([], None)):
        expected = encode_json(LedgerPageOut(data=items, next_cursor=cursor))
        assert encoded_page(encode_each(items), cursor) == expected


def test_prev_cursor_follows_next_cursor_only_when_given() -> None:
    lines = [{"amount": 1}, {"amount": None}]
    assert encoded_page(encode_each(lines), "n", prev_cursor=None) == msgspec.json.encode(
        {"data": lines, "next_cursor": "n", "prev_cursor": None}
    )
    assert encoded_page([], None) == b'{"data":[],"next_cursor":null}'


def test_a_page_answer_carries_the_envelope_as_json() -> None:
    answer = page_answer(LedgerPageOut, [b'{"a":1}'], None)
    content: object = answer.content  # typed as the page Struct; the bytes go out as they are
    assert content == b'{"data":[{"a":1}],"next_cursor":null}'
    assert answer.media_type == "application/json"
