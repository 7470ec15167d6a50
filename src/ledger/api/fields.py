"""Constrained text types shared by the journal bodies (native and seed-compatible).

One definition each, so a bound in ``ledger.limits`` is enforced the same way by every
endpoint that posts a journal (a failure is a 400 naming the field).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from ledger import limits

# A journal's or entry's description, reference and similar free text.
Text = Annotated[str, msgspec.Meta(max_length=limits.JOURNAL_TEXT_LENGTH_MAX)]
# A client's idempotency key (external_id and its aliases): never empty.
Key = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.JOURNAL_KEY_LENGTH_MAX)]
# An ISO 4217 code or a tenant's custom currency code.
Currency = Annotated[str, msgspec.Meta(pattern=limits.CURRENCY_CODE_PATTERN)]
