"""Currencies and their precision (minor-unit exponent).

The ISO 4217 table comes from the maintained ``iso4217`` package (the published list), not
typed by hand. Codes without a minor unit in the standard (precious metals, fund codes such
as XAU or XDR) are not money this service books and are left out.
"""

from __future__ import annotations

import re
import uuid
from typing import Final

from iso4217 import Currency

from ledger import limits

ISO_PRECISION: Final[dict[str, int]] = {
    c.code: c.exponent for c in Currency if c.exponent is not None
}
CUSTOM_CODE_PATTERN: Final = re.compile(limits.CURRENCY_CODE_PATTERN)
PRECISION_MAX: Final = limits.CURRENCY_PRECISION_MAX


def is_iso_currency(code: str) -> bool:
    return code in ISO_PRECISION


# Every code of the ISO 4217 list, including those without a minor unit (XAU, XDR, XTS …):
# none of them can be a tenant's custom currency (docs/api.md §3: an ISO code → 409).
ISO_CODES: Final[frozenset[str]] = frozenset(c.code for c in Currency)


def is_reserved_code(code: str) -> bool:
    """Whether ``code`` is an ISO 4217 code, so never available as a custom currency."""
    return code in ISO_CODES


def is_valid_custom_code(code: str) -> bool:
    """Whether ``code`` has the shape of a custom currency code (``^[A-Z][A-Z0-9]{2,9}$``)."""
    return CUSTOM_CODE_PATTERN.fullmatch(code) is not None


def is_valid_precision(precision: int) -> bool:
    """Whether ``precision`` is an allowed minor-unit exponent (0 .. ``PRECISION_MAX``)."""
    return not isinstance(precision, bool) and 0 <= precision <= PRECISION_MAX


# The namespace of currency ids: uuid5(NAMESPACE_URL, "urn:ledger:currency"). Fixed forever:
# clients may store the ids it derives.
CURRENCY_ID_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "urn:ledger:currency")


def currency_id(code: str) -> uuid.UUID:
    """A stable UUID naming the currency ``code``: ``uuid5(CURRENCY_ID_NAMESPACE, code)``.

    The same code always gives the same id, in every tenant and process (the seed-compatible
    journal answer's ``currency_id``); no table stores it.
    """
    return uuid.uuid5(CURRENCY_ID_NAMESPACE, code)
