"""Currencies and their precision (minor-unit exponent).

The ISO 4217 table comes from the maintained ``iso4217`` package (the published list), not
typed by hand. Codes without a minor unit in the standard (precious metals, fund codes such
as XAU or XDR) are not money this service books and are left out.
"""

from __future__ import annotations

import re
from typing import Final

from iso4217 import Currency

ISO_PRECISION: Final[dict[str, int]] = {
    c.code: c.exponent for c in Currency if c.exponent is not None
}
CUSTOM_CODE_PATTERN: Final = re.compile(r"^[A-Z][A-Z0-9]{2,9}$")
PRECISION_MAX: Final = 18


def is_iso_currency(code: str) -> bool:
    return code in ISO_PRECISION
