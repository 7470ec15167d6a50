"""ISO 20022 camt.053 statements, camt.052 account reports and camt.054 notifications,
read with ``lxml`` (any version, 001.01 … 001.13, also inside an envelope with an
``AppHdr``, or several in a ZIP archive as banks deliver them; elements are matched by
local name, so the namespace does not matter).

What is imported, per statement (``Stmt`` / ``Rpt`` / ``Ntfctn``), each line with its own
statement's account (``Acct/Id/IBAN``, else ``Acct/Id/Othr/Id``):

- Every booked entry (``Sts`` or ``Sts/Cd`` ``BOOK``, or none given); a pending, information
  or future entry (``PDNG``, ``INFO``, ``FUTR``) is listed as skipped ``pending``, an entry
  of 0 as skipped ``zero_amount``.
- Amount and direction always come from the booked entry (``Ntry/Amt``, ``Ntry/CdtDbtInd``),
  never from its transaction details: those may carry an instructed amount in another
  currency. A reversal (``RvslInd``) keeps the direction it was booked with and is marked
  ``reversal`` in the metadata.
- A batch entry (several ``TxDtls``) becomes one line per part when every part has an
  amount in the entry's currency and the parts add up to the entry; parts in the entry's
  currency that do not add up make the file unreadable; parts without such an amount leave
  the entry as one line (with a warning).
- The date is the booking date as written (``BookgDt/Dt``, else the date part of
  ``BookgDt/DtTm``, never shifted to UTC), else the value date; an entry with neither takes
  its statement's creation date, with a warning.
- The bank reference is the entry's ``AcctSvcrRef`` (else, for a single-part entry, the
  part's); a batch part adds its own reference so the parts are told apart.
- The opening (``OPBD``, else ``PRCD``) and closing (``CLBD``) balances, when both are
  given, are checked against the booked lines: a difference, or a balance that cannot be
  read, is a warning.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from lxml import etree

from ledger.importers.common import (
    BankErrorResponse,
    ParsedStatement,
    SkippedLine,
    StatementError,
    StatementLine,
    clean_text,
    minor_units,
    precision_of,
    real_reference,
)

# Message element → (kind, statement element, word used in locations).
_MESSAGES: Final = {
    "BkToCstmrStmt": ("camt.053", "Stmt", "statement"),
    "BkToCstmrAcctRpt": ("camt.052", "Rpt", "report"),
    "BkToCstmrDbtCdtNtfctn": ("camt.054", "Ntfctn", "notification"),
}
_DIRECTIONS: Final = {"CRDT": "credit", "DBIT": "debit"}
_NOT_BOOKED: Final = {
    "PDNG": "pending",
    "INFO": "for information only",
    "FUTR": "a future entry",
}
# A part's own references, best first (the bank's own, then the payer's).
_PART_REFERENCES: Final = (
    "AcctSvcrRef",
    "EndToEndId",
    "TxId",
    "InstrId",
    "PmtInfId",
    "MsgId",
    "UETR",
    "ClrSysRef",
    "MndtId",
    "ChqNb",
)
_HEAD_BYTES: Final = 4096
_ZIP_FILES_MAX: Final = 1000
_ZIP_FILE_BYTES_MAX: Final = 32_000_000
_ZIP_TOTAL_BYTES_MAX: Final = 64_000_000


def _parser() -> Any:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


# ---------------------------------------------------------------- element helpers


def _local(element: Any) -> str:
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _strip_namespaces(root: Any) -> None:
    """Every element named by its local name, so paths such as ``Acct/Id/IBAN`` match
    whatever the namespace (and lxml's own ``find`` does the walking)."""
    for element in root.iter():
        tag = element.tag
        if isinstance(tag, str) and tag.startswith("{"):
            element.tag = tag.rpartition("}")[2]


def _message_name(element: Any) -> str:
    """The message element's name without the ``V01`` suffix of camt 001.01."""
    name = _local(element)
    if name[-3:-2] == "V" and name[-2:].isdigit():
        return name[:-3]
    return name


def _children(element: Any, name: str) -> Iterator[Any]:
    yield from element.iterchildren(name)


def _find(element: Any, path: str) -> Any:
    """The first element at ``path`` (``"Acct/Id/IBAN"``) below ``element``, or None."""
    return element.find(path)


def _text(element: Any, path: str) -> str | None:
    found = element.find(path) if element is not None else None
    if found is None or found.text is None:
        return None
    text: str = found.text.strip()
    return text or None


def _all_text(element: Any, path: str) -> list[str]:
    """The texts of every element at ``path`` below ``element`` (all branches)."""
    return [c.text.strip() for c in element.findall(path) if c.text and c.text.strip()]


def _account(statement: Any) -> str | None:
    """The statement's account: its IBAN, else its other id (``PrtryAcct`` in 001.01)."""
    for path in ("Acct/Id/IBAN", "Acct/Id/Othr/Id", "Acct/Id/BBAN", "Acct/Id/PrtryAcct/Id"):
        if value := _text(statement, path):
            return value
    return None


def _date(value: str | None) -> dt.date | None:
    """The date as written (``2026-06-01`` or the date part of ``2026-06-01T23:30:00+02:00``)."""
    if value is None:
        return None
    return dt.date.fromisoformat(value[:10])


# ---------------------------------------------------------------- amounts


def _minor(text: str | None, places: int, where: str, what: str) -> tuple[int, bool]:
    if text is None:
        raise StatementError(f"the {what} has no value", location=where)
    try:
        return minor_units(text, places)
    except StatementError as e:
        raise StatementError(f"the {what}: {e.details['reason']}", location=where) from None


def _show(minor: int, places: int) -> str:
    return f"{Decimal(minor).scaleb(-places):.{places}f}"


@dataclass
class _Statement:
    number: int
    word: str
    kind: str
    element: Any
    account: str | None
    currency: str | None
    statement_id: str | None
    created: str | None  # CreDtTm as written: the date of an entry that has none
    prefix: str = ""  # "file x.xml, " for a file of a ZIP archive
    lines: list[StatementLine] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.prefix}{self.word} {self.number}"


# ---------------------------------------------------------------- the file


def parse_camt053(content: bytes, decimal_places: int) -> ParsedStatement:
    """The booked entries of a camt.053, camt.052 or camt.054 file (module docstring).

    Raises:
        StatementError: not a camt message, or an entry that cannot be read (400).
    """
    try:
        return _parse(content, decimal_places)
    except (StatementError, BankErrorResponse):
        raise
    except RecursionError:
        raise StatementError("the file is nested too deeply to be a camt message") from None
    except Exception:  # lxml and the standard library raise many types for a bad file
        raise StatementError(
            "the file cannot be read as a camt.053, camt.052 or camt.054 message"
        ) from None


def _root(content: bytes) -> Any:
    head = content[:_HEAD_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise StatementError("the file is empty")
    squeezed = content.replace(b"\x00", b"") if b"\x00" in content[:_HEAD_BYTES] else content
    if b"<!ENTITY" in squeezed:
        raise StatementError("the file declares XML entities (a DOCTYPE); camt files have none")
    lowered = head[:1024].replace(b"\x00", b"").lower()
    if b"<html" in lowered or b"<!doctype html" in lowered:
        raise StatementError(
            "the file is a web page (HTML), not a camt.053, camt.052 or camt.054 file"
        )
    if not head.replace(b"\x00", b"").lstrip(b"\xff\xfe").startswith(b"<"):
        raise StatementError("the file is not XML, so not a camt.053, camt.052 or camt.054 file")
    if b"\x00" not in content[:4]:  # not UTF-16/32: blanks before the XML declaration are harmless
        content = content.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    try:
        root = etree.fromstring(content, _parser())
    except etree.XMLSyntaxError as e:
        line = getattr(e, "lineno", None)
        at = f" near line {line}" if line else ""
        raise StatementError(f"the file is not well-formed XML{at}") from None
    except ValueError:
        raise StatementError("the file is not well-formed XML") from None
    if root is None:
        raise StatementError("the file is not well-formed XML")
    docinfo = root.getroottree().docinfo
    dtd = docinfo.internalDTD
    if dtd is not None and list(dtd.iterentities()):
        raise StatementError("the file declares a DOCTYPE with entities; camt files have none")
    return root


def _parse(content: bytes, decimal_places: int, prefix: str = "") -> ParsedStatement:
    if content[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return _parse_zip(content, decimal_places)
    root = _root(content)
    _strip_namespaces(root)
    messages = [
        element
        for element in root.iter()
        if isinstance(element.tag, str) and _message_name(element) in _MESSAGES
    ]
    if not messages:
        raise StatementError(
            f"the file is XML (<{_local(root)[:40] or 'unknown'}>) but not a camt.053, camt.052 or "
            "camt.054 message: it has no BkToCstmrStmt, BkToCstmrAcctRpt or "
            "BkToCstmrDbtCdtNtfctn"
        )
    kinds: list[str] = []
    lines: list[StatementLine] = []
    skipped: list[SkippedLine] = []
    warnings: list[str] = []
    number = 0
    for message in messages:
        kind, statement_name, word = _MESSAGES[_message_name(message)]
        created = _text(message, "GrpHdr/CreDtTm")
        if kind not in kinds:
            kinds.append(kind)
        statements = list(_children(message, statement_name))
        if not statements:
            raise StatementError(
                f"the {kind} message has no {word} ({statement_name})",
                location=prefix.removesuffix(", ") or None,
            )
        for element in statements:
            number += 1
            statement = _Statement(
                number=number,
                word=word,
                kind=kind,
                element=element,
                account=_account(element),
                currency=_text(element, "Acct/Ccy"),
                statement_id=_text(element, "Id"),
                created=_text(element, "CreDtTm") or created,
                prefix=prefix,
            )
            for index, entry in enumerate(_children(element, "Ntry"), start=1):
                _read_entry(statement, entry, index, decimal_places, skipped, warnings)
            warning = _balance_check(statement, decimal_places)
            if warning:
                warnings.append(warning)
            lines.extend(statement.lines)
    return ParsedStatement(kind=", ".join(kinds), lines=lines, skipped=skipped, warnings=warnings)


def _parse_zip(content: bytes, decimal_places: int) -> ParsedStatement:
    """A ZIP archive of camt files (as banks deliver them): every file in it, in order,
    each line's location naming its file. Bounded: at most :data:`_ZIP_FILES_MAX` files of
    at most :data:`_ZIP_FILE_BYTES_MAX` bytes each and :data:`_ZIP_TOTAL_BYTES_MAX` in all;
    an archive inside is not opened."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, NotImplementedError):
        raise StatementError("the file is a damaged or unsupported ZIP archive") from None
    if len(members) > _ZIP_FILES_MAX:
        raise StatementError(f"a ZIP archive holds at most {_ZIP_FILES_MAX} camt files")
    kinds: list[str] = []
    lines: list[StatementLine] = []
    skipped: list[SkippedLine] = []
    warnings: list[str] = []
    unpacked = 0
    for member in members:
        name = member.filename[-100:]
        if member.file_size > _ZIP_FILE_BYTES_MAX:
            raise StatementError(
                f"{name} in the ZIP archive is larger than {_ZIP_FILE_BYTES_MAX // 1_000_000} MB"
            )
        try:
            with archive.open(member) as handle:
                data = handle.read(_ZIP_FILE_BYTES_MAX + 1)
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            OSError,
            ValueError,
            NotImplementedError,
            RuntimeError,
        ):
            raise StatementError(f"{name} in the ZIP archive cannot be unpacked") from None
        if len(data) > _ZIP_FILE_BYTES_MAX:
            raise StatementError(f"{name} in the ZIP archive is too large")
        unpacked += len(data)
        if unpacked > _ZIP_TOTAL_BYTES_MAX:
            raise StatementError(
                f"the ZIP archive unpacks to more than {_ZIP_TOTAL_BYTES_MAX // 1_000_000} MB"
            )
        head = data[:_HEAD_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n").replace(b"\x00", b"")
        if not head.lstrip(b"\xff\xfe").startswith(b"<"):
            warnings.append(f"{name} in the ZIP archive is not a camt file; left out")
            continue
        try:
            parsed = _parse_member(data, decimal_places, f"file {name}, ")
        except StatementError as e:
            location = e.details.get("location") or ""
            if not location.startswith(f"file {name}"):
                location = f"file {name}, {location}" if location else f"file {name}"
            raise StatementError(e.details["reason"], location=location) from None
        kinds.extend(k for k in parsed.kind.split(", ") if k not in kinds)
        lines.extend(parsed.lines)
        skipped.extend(parsed.skipped)
        warnings.extend(parsed.warnings)
    if not kinds:
        raise StatementError("the ZIP archive holds no camt file")
    return ParsedStatement(kind=", ".join(kinds), lines=lines, skipped=skipped, warnings=warnings)


def _parse_member(data: bytes, decimal_places: int, prefix: str) -> ParsedStatement:
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        raise StatementError("an archive inside the ZIP archive is not opened")
    return _parse(data, decimal_places, prefix)


# ---------------------------------------------------------------- balances


def _balance(statement: _Statement, codes: tuple[str, ...], places_default: int) -> Any:
    """``(signed minor units, currency, places)`` of the first balance of the first code
    in ``codes`` that the statement carries, or None."""
    balances = list(_children(statement.element, "Bal"))
    for code in codes:
        for balance in balances:
            if (_text(balance, "Tp/CdOrPrtry/Cd") or "").upper() != code:
                continue
            amount = _find(balance, "Amt")
            currency = (amount.get("Ccy") if amount is not None else None) or statement.currency
            places = precision_of(currency, places_default)
            where = f"{statement.where}, balance {code}"
            minor, negative = _minor(_text(balance, "Amt"), places, where, "balance amount (Amt)")
            indicator = (_text(balance, "CdtDbtInd") or "CRDT").upper()
            if (indicator == "DBIT") != negative:
                minor = -minor
            return minor, currency, places
    return None


def _balance_check(statement: _Statement, decimal_places: int) -> str | None:
    """A warning when the statement's balances do not add up (or cannot be read: they
    only serve this check, so a bad balance does not make the file unreadable)."""
    try:
        opening = _balance(statement, ("OPBD", "PRCD"), decimal_places)
        closing = _balance(statement, ("CLBD",), decimal_places)
    except StatementError as e:
        return f"{e}; the balances are not checked"
    if opening is None or closing is None:
        return None
    (start, currency, places), (end, end_currency, _) = opening, closing
    if currency != end_currency or any(ln.currency != currency for ln in statement.lines):
        return None
    moved = sum(ln.amount if ln.direction == "credit" else -ln.amount for ln in statement.lines)
    if start + moved == end:
        return None
    return (
        f"{statement.where}"
        f"{f' (account {statement.account})' if statement.account else ''}: the opening "
        f"balance {_show(start, places)} {currency} plus the booked entries "
        f"({_show(moved, places)}) is {_show(start + moved, places)}, but the closing balance "
        f"is {_show(end, places)}"
    )


# ---------------------------------------------------------------- entries


def _status(entry: Any) -> str | None:
    status = _find(entry, "Sts")
    if status is None:
        return None
    text = (status.text or "").strip() or _text(status, "Cd") or _text(status, "Prtry")
    return text.upper() if text else None


def _read_entry(
    statement: _Statement,
    entry: Any,
    index: int,
    decimal_places: int,
    skipped: list[SkippedLine],
    warnings: list[str],
) -> None:
    where = f"{statement.where}, entry {index}"
    status = _status(entry)
    if status not in (None, "BOOK"):
        why = _NOT_BOOKED.get(status, "not booked")
        skipped.append(
            SkippedLine(
                location=where,
                reason="pending",
                detail=f"status {status} ({why}): only booked entries are imported",
            )
        )
        return
    amount_element = _find(entry, "Amt")
    if amount_element is None:
        raise StatementError("the entry has no amount (Amt)", location=where)
    currency = (amount_element.get("Ccy") or "").strip().upper() or statement.currency
    places = precision_of(currency, decimal_places)
    amount, negative = _minor(_text(entry, "Amt"), places, where, "entry amount (Amt)")
    indicator = (_text(entry, "CdtDbtInd") or "").upper()
    direction = _DIRECTIONS.get(indicator)
    if direction is None:
        raise StatementError(
            "the entry has no credit/debit indicator (CdtDbtInd CRDT or DBIT)", location=where
        )
    if negative:
        direction = "debit" if direction == "credit" else "credit"
        warnings.append(f"{where}: a negative amount; booked as a {direction}")
    written = (
        _text(entry, "BookgDt/Dt")
        or _text(entry, "BookgDt/DtTm")
        or _text(entry, "ValDt/Dt")
        or _text(entry, "ValDt/DtTm")
    )
    if written is None:
        written = statement.created
        if written is None:
            raise StatementError(
                "the entry has no booking or value date (BookgDt, ValDt)", location=where
            )
        warnings.append(
            f"{where}: no booking or value date; dated by the {statement.word}'s creation date"
        )
    try:
        date = _date(written)
    except ValueError:
        raise StatementError(
            f"the entry's date {written[:40]!r} is not a date", location=where
        ) from None
    assert date is not None
    try:
        value_date = _date(_text(entry, "ValDt/Dt") or _text(entry, "ValDt/DtTm"))
    except ValueError:
        value_date = None  # only metadata: the booking date is the line's date
    if amount == 0:
        skipped.append(
            SkippedLine(location=where, reason="zero_amount", detail="a booked entry of 0")
        )
        return
    parts = [tx for details in _children(entry, "NtryDtls") for tx in _children(details, "TxDtls")]
    base: dict[str, Any] = {"source": statement.kind}
    for key, value in (
        ("statement", statement.statement_id),
        ("entry_reference", _text(entry, "NtryRef")),
        ("value_date", value_date.isoformat() if value_date else None),
    ):
        if value:
            base[key] = value
    if (_text(entry, "RvslInd") or "").lower() in ("true", "1"):
        base["reversal"] = True
    entry_reference = real_reference(_text(entry, "AcctSvcrRef"))
    signed = amount if direction == "credit" else -amount
    if len(parts) > 1:
        split = _split(parts, currency, places, direction, where, warnings)
        if split is not None:
            total = sum(a if d == "credit" else -a for a, d in split)
            if total != signed:
                raise StatementError(
                    f"its {len(parts)} parts sum to {_show(total, places)} {currency} but the "
                    f"entry is {_show(signed, places)} {currency}",
                    location=where,
                )
            for number, (part, (part_amount, part_direction)) in enumerate(
                zip(parts, split, strict=True), start=1
            ):
                part_where = f"{where}, part {number}"
                if part_amount == 0:
                    skipped.append(
                        SkippedLine(
                            location=part_where,
                            reason="zero_amount",
                            detail="a part of 0 in a batch entry",
                        )
                    )
                    continue
                own = next(
                    (
                        ref
                        for name in _PART_REFERENCES
                        if (ref := real_reference(_text(part, f"Refs/{name}")))
                    ),
                    None,
                )
                reference = (
                    f"{entry_reference}/{own}"
                    if entry_reference and own and own != entry_reference
                    else entry_reference or own
                )
                statement.lines.append(
                    _line(
                        statement,
                        entry,
                        [part],
                        amount=part_amount,
                        direction=part_direction,
                        date=date,
                        places=places,
                        currency=currency,
                        reference=reference,
                        where=part_where,
                        base=base,
                    )
                )
            return
    reference = entry_reference
    if reference is None and len(parts) == 1:
        reference = real_reference(_text(parts[0], "Refs/AcctSvcrRef"))
    statement.lines.append(
        _line(
            statement,
            entry,
            parts,
            amount=amount,
            direction=direction,
            date=date,
            places=places,
            currency=currency,
            reference=reference,
            where=where,
            base=base,
        )
    )


def _split(
    parts: list[Any],
    currency: str | None,
    places: int,
    direction: str,
    where: str,
    warnings: list[str],
) -> list[tuple[int, str]] | None:
    """Each part's ``(amount, direction)`` in the entry's currency, or None (with a warning)
    when a part has no amount in that currency."""
    split: list[tuple[int, str]] = []
    for number, part in enumerate(parts, start=1):
        text = None
        for path in ("Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt"):
            found = _find(part, path)
            if found is None or not (found.text or "").strip():
                continue
            own = (found.get("Ccy") or "").strip().upper() or currency
            if own == currency:
                text = found.text
                break
        if text is None:
            warnings.append(
                f"{where}: a batch entry of {len(parts)} parts, part {number} has no amount in "
                f"{currency or 'the entry currency'}; imported as one line"
            )
            return None
        part_where = f"{where}, part {number}"
        part_amount, negative = _minor(text, places, part_where, "part's amount (Amt)")
        part_direction = _DIRECTIONS.get((_text(part, "CdtDbtInd") or "").upper(), direction)
        if negative:
            part_direction = "debit" if part_direction == "credit" else "credit"
        split.append((part_amount, part_direction))
    return split


def _line(
    statement: _Statement,
    entry: Any,
    parts: list[Any],
    *,
    amount: int,
    direction: str,
    date: dt.date,
    places: int,
    currency: str | None,
    reference: str | None,
    where: str,
    base: dict[str, Any],
) -> StatementLine:
    texts = [t for part in parts for t in _all_text(part, "RmtInf/Ustrd")]
    if not texts:
        texts = [t for part in parts for t in _all_text(part, "RmtInf/Strd/CdtrRefInf/Ref")]
    if not texts:
        texts = [t for part in parts for t in _all_text(part, "AddtlTxInf")]
    if not texts or len(parts) > 1:
        entry_text = _text(entry, "AddtlNtryInf")
        if entry_text:
            texts = [entry_text]
    metadata = dict(base)
    party = "Dbtr" if direction == "credit" else "Cdtr"
    for key, values in (
        (
            "counterparty",
            [
                v
                for part in parts
                for p in (f"RltdPties/{party}/Nm", f"RltdPties/{party}/Pty/Nm")
                if (v := _text(part, p))
            ],
        ),
        (
            "end_to_end_id",
            [v for part in parts if (v := real_reference(_text(part, "Refs/EndToEndId")))],
        ),
        (
            "bank_transaction_code",
            [v for source in [*parts, entry] if (v := _transaction_code(source))],
        ),
    ):
        if values and (len(parts) <= 1 or key == "bank_transaction_code"):
            metadata[key] = values[0]
    return StatementLine(
        amount=amount,
        direction=direction,
        date=date,
        decimal_places=places,
        account=statement.account,
        currency=currency,
        bank_reference=reference,
        location=where,
        description=clean_text(*texts),
        metadata=metadata,
    )


def _transaction_code(element: Any) -> str | None:
    domain = _text(element, "BkTxCd/Domn/Cd")
    family = _text(element, "BkTxCd/Domn/Fmly/Cd")
    sub = _text(element, "BkTxCd/Domn/Fmly/SubFmlyCd")
    if domain:
        return "/".join(c for c in (domain, family, sub) if c)
    return _text(element, "BkTxCd/Prtry/Cd")
