"""Prefixed public ids: a UUID written as ``<prefix>_`` and 22 base-57 characters.

Some client APIs name their objects ``jou_33dCzmjULSzy3uaFBLfC4w`` rather than by UUID. Such
an id here is an encoding of the object's own UUID, not a second key: no table maps one to
the other, and every UUID has exactly one id per prefix.

The encoding is the one of the ``shortuuid`` package: the UUID's 128-bit integer in base 57
(the alphabet below, which leaves out the look-alikes ``0 1 I O l``), most significant digit
first, left-padded with the alphabet's first character to :data:`ID_LENGTH` characters
(57^22 > 2^128 > 57^21, so 22 is the least fixed length). :func:`decode_id` accepts only
what :func:`encode_id` writes: the prefix, exactly 22 characters of the alphabet, and a value
below 2^128 (so no two texts name one UUID).
"""

from __future__ import annotations

from typing import Final
from uuid import UUID

ALPHABET: Final = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
ID_LENGTH: Final = 22
_BASE: Final = len(ALPHABET)
_DIGITS: Final[dict[str, int]] = {char: value for value, char in enumerate(ALPHABET)}
_UUID_LIMIT: Final = 1 << 128


def encode_id(prefix: str, value: UUID) -> str:
    """``value`` as ``<prefix>_`` and its 22 base-57 characters."""
    number = value.int
    chars: list[str] = []
    for _ in range(ID_LENGTH):
        number, digit = divmod(number, _BASE)
        chars.append(ALPHABET[digit])
    assert number == 0, "57^22 exceeds every 128-bit value"
    return f"{prefix}_{''.join(reversed(chars))}"


def decode_id(prefix: str, text: str) -> UUID | None:
    """The UUID ``text`` encodes with ``prefix`` (the inverse of :func:`encode_id`), or None
    when ``text`` is not such an id: another prefix, another length, a character outside the
    alphabet, or a value of 2^128 or more."""
    head, separator, body = text.partition("_")
    if separator != "_" or head != prefix or len(body) != ID_LENGTH:
        return None
    number = 0
    for char in body:
        digit = _DIGITS.get(char)
        if digit is None:
            return None
        number = number * _BASE + digit
    if number >= _UUID_LIMIT:
        return None
    return UUID(int=number)
