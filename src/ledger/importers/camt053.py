"""ISO 20022 camt.053 statements, camt.052 account reports and camt.054 notifications,
read with ``lxml``: any version (001.01 … 001.13), also inside an envelope with an
``AppHdr`` or several in a ZIP archive as banks deliver them; elements are matched by local
name, so the namespace does not matter.

Per statement (``Stmt`` / ``Rpt`` / ``Ntfctn``), each line with that statement's account
(``Acct/Id/IBAN``, else its other id):

- Every booked entry (status ``BOOK``, or none given) is imported; any other status
  (``PDNG``, ``INFO``, ``FUTR`` …) is skipped as ``pending``, an entry of 0 as ``zero_amount``.
- Amount and direction always come from the booked entry (``Ntry/Amt``, ``Ntry/CdtDbtInd``),
  never from its transaction details, which may carry an instructed amount in another
  currency. A reversal (``RvslInd``) keeps its booked direction and is marked ``reversal``
  in the metadata.
- A batch entry (several ``TxDtls``) becomes one line per part when every part has an
  amount in the entry's currency and the parts add up to the entry; parts in that currency
  that do not add up make the file unreadable; otherwise the entry stays one line (with a
  warning).
- The date is the booking date as written (``BookgDt/Dt``, else the date part of
  ``BookgDt/DtTm``, never shifted to UTC), else the value date, else (with a warning) the
  statement's creation date.
- The bank reference is the entry's ``AcctSvcrRef`` (else, for a single-part entry, the
  part's); a batch part adds its own reference so the parts are told apart.
- The opening (``OPBD``, else ``PRCD``) and closing (``CLBD``) balances, when both are given
  in the lines' currency, are checked against the booked lines: a difference, or a balance
  that cannot be read, is a warning.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from lxml import etree

from ledger.domain.ledgers import Direction
from ledger.importers.common import (
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
_DIRECTIONS: Final[dict[str, Direction]] = {"CRDT": "credit", "DBIT": "debit"}
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
# The statement's account, best first (``PrtryAcct`` is camt 001.01's other id).
_ACCOUNT_PATHS: Final = ("Acct/Id/IBAN", "Acct/Id/Othr/Id", "Acct/Id/BBAN", "Acct/Id/PrtryAcct/Id")
_ZIP_SIGNATURES: Final = (b"PK\x03\x04", b"PK\x05\x06")
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


def _text(element: Any, path: str) -> str | None:
    """The stripped text of the first element at ``path`` below ``element``; None when
    there is no such element or its text is blank."""
    found = element.find(path)
    if found is None or found.text is None:
        return None
    text: str = found.text.strip()
    return text or None


def _first_text(element: Any, *paths: str) -> str | None:
    """The text (:func:`_text`) at the first of ``paths`` that has one, or None."""
    for path in paths:
        if text := _text(element, path):
            return text
    return None


def _all_text(element: Any, path: str) -> list[str]:
    """The texts of every element at ``path`` below ``element`` (all branches)."""
    return [c.text.strip() for c in element.findall(path) if c.text and c.text.strip()]


def _date(value: str) -> dt.date:
    """The date as written (``2026-06-01`` or the date part of ``2026-06-01T23:30:00+02:00``).

    Raises:
        ValueError: not a date.
    """
    return dt.date.fromisoformat(value[:10])


# ---------------------------------------------------------------- amounts


def _minor(text: str | None, places: int, where: str, what: str) -> tuple[int, bool]:
    """``(abs amount in minor units, negative?)`` of ``what`` at ``where``.

    Raises:
        StatementError: no value, or not an amount of ``places`` decimals.
    """
    if text is None:
        raise StatementError(f"the {what} has no value", location=where)
    try:
        return minor_units(text, places)
    except StatementError as e:
        raise StatementError(f"the {what}: {e.details['reason']}", location=where) from None


def _show(minor: int, places: int) -> str:
    return f"{Decimal(minor).scaleb(-places):.{places}f}"


def _opposite(direction: Direction) -> Direction:
    return "debit" if direction == "credit" else "credit"


def _signed(amount: int, direction: Direction) -> int:
    return amount if direction == "credit" else -amount


# ---------------------------------------------------------------- what is read


@dataclass
class _Found:
    """What the file (or ZIP archive) holds so far, in file order."""

    kinds: list[str] = field(default_factory=list)  # "camt.053" …, each once
    lines: list[StatementLine] = field(default_factory=list)
    skipped: list[SkippedLine] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def parsed(self) -> ParsedStatement:
        return ParsedStatement(
            kind=", ".join(self.kinds),
            lines=self.lines,
            skipped=self.skipped,
            warnings=self.warnings,
        )


@dataclass
class _Statement:
    """One ``Stmt`` / ``Rpt`` / ``Ntfctn`` being read, with what its entries need."""

    number: int  # counted across the file's messages
    word: str
    kind: str
    element: Any
    account: str | None
    currency: str | None
    statement_id: str | None
    created: str | None  # CreDtTm as written: the date of an entry that has none
    prefix: str = ""  # "file x.xml, " for a file of a ZIP archive
    lines: list[StatementLine] = field(default_factory=list)  # its booked lines

    @property
    def where(self) -> str:
        return f"{self.prefix}{self.word} {self.number}"


@dataclass(frozen=True)
class _Entry:
    """A booked entry (``Ntry``) as its own elements say, before its parts are looked at."""

    element: Any
    where: str
    amount: int  # minor units, >= 0
    direction: Direction
    currency: str | None
    places: int
    date: dt.date
    reference: str | None  # the entry's own AcctSvcrRef, if a real one
    metadata: dict[str, Any]  # what every line of the entry carries


# ---------------------------------------------------------------- the file


def parse_camt053(content: bytes, decimal_places: int) -> ParsedStatement:
    """The booked entries of a camt.053, camt.052 or camt.054 file, or of a ZIP archive of
    such files (module docstring).

    Raises:
        StatementError: not a camt message, or an entry that cannot be read (400).
    """
    found = _Found()
    try:
        if content[:4] in _ZIP_SIGNATURES:
            _read_zip(content, decimal_places, found)
        else:
            _read_xml(content, decimal_places, found)
    except StatementError:
        raise
    except RecursionError:
        raise StatementError("the file is nested too deeply to be a camt message") from None
    except Exception:  # lxml and the standard library raise many types for a bad file
        raise StatementError(
            "the file cannot be read as a camt.053, camt.052 or camt.054 message"
        ) from None
    return found.parsed()


def _root(content: bytes) -> Any:
    """The XML document's root element, after refusing what is plainly not a camt file
    (empty, HTML, not XML, XML entities).

    Raises:
        StatementError: any of those, or XML that is not well-formed.
    """
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
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and list(dtd.iterentities()):
        raise StatementError("the file declares a DOCTYPE with entities; camt files have none")
    return root


def _messages(root: Any) -> list[Any]:
    """The camt message elements in the document (each ``BkToCstmr…``), in order.

    Raises:
        StatementError: there is none.
    """
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
    return messages


def _read_xml(content: bytes, decimal_places: int, found: _Found, prefix: str = "") -> None:
    """Adds every statement of every camt message of an XML file to ``found``; ``prefix``
    (``"file x.xml, "``) starts the locations of a file of a ZIP archive.

    Raises:
        StatementError: not a camt file, a message without statements, or an entry that
            cannot be read.
    """
    root = _root(content)
    _strip_namespaces(root)
    number = 0
    for message in _messages(root):
        kind, statement_name, word = _MESSAGES[_message_name(message)]
        if kind not in found.kinds:
            found.kinds.append(kind)
        elements = list(message.iterchildren(statement_name))
        if not elements:
            raise StatementError(
                f"the {kind} message has no {word} ({statement_name})",
                location=prefix.removesuffix(", ") or None,
            )
        created = _text(message, "GrpHdr/CreDtTm")
        for element in elements:
            number += 1
            statement = _Statement(
                number=number,
                word=word,
                kind=kind,
                element=element,
                account=_first_text(element, *_ACCOUNT_PATHS),
                currency=_text(element, "Acct/Ccy"),
                statement_id=_text(element, "Id"),
                created=_text(element, "CreDtTm") or created,
                prefix=prefix,
            )
            _read_statement(statement, decimal_places, found)


def _read_statement(statement: _Statement, decimal_places: int, found: _Found) -> None:
    """Adds the statement's entries, and the warning of its balance check, to ``found``."""
    for index, entry in enumerate(statement.element.iterchildren("Ntry"), start=1):
        _read_entry(statement, entry, index, decimal_places, found)
    if warning := _balance_check(statement, decimal_places):
        found.warnings.append(warning)
    found.lines.extend(statement.lines)


# ---------------------------------------------------------------- ZIP archives


def _read_zip(content: bytes, decimal_places: int, found: _Found) -> None:
    """Adds every camt file of a ZIP archive (as banks deliver them) to ``found``, in order,
    each location naming its file. A file that is not XML (an archive inside included) is
    left out with a warning. Bounded: at most :data:`_ZIP_FILES_MAX` files of at most
    :data:`_ZIP_FILE_BYTES_MAX` bytes each and :data:`_ZIP_TOTAL_BYTES_MAX` in all.

    Raises:
        StatementError: a damaged archive, one over the bounds, one without camt files, or
            a camt file that cannot be read.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, NotImplementedError):
        raise StatementError("the file is a damaged or unsupported ZIP archive") from None
    if len(members) > _ZIP_FILES_MAX:
        raise StatementError(f"a ZIP archive holds at most {_ZIP_FILES_MAX} camt files")
    unpacked = 0
    for member in members:
        name = member.filename[-100:]
        data = _unpack(archive, member, name)
        unpacked += len(data)
        if unpacked > _ZIP_TOTAL_BYTES_MAX:
            raise StatementError(
                f"the ZIP archive unpacks to more than {_ZIP_TOTAL_BYTES_MAX // 1_000_000} MB"
            )
        head = data[:_HEAD_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n").replace(b"\x00", b"")
        if not head.lstrip(b"\xff\xfe").startswith(b"<"):
            found.warnings.append(f"{name} in the ZIP archive is not a camt file; left out")
            continue
        try:
            _read_xml(data, decimal_places, found, f"file {name}, ")
        except StatementError as e:
            # The entries' locations already name the file; a whole-file error does not.
            location = e.details.get("location") or f"file {name}"
            raise StatementError(e.details["reason"], location=location) from None
    if not found.kinds:
        raise StatementError("the ZIP archive holds no camt file")


def _unpack(archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str) -> bytes:
    """The bytes of one file of the archive, read no further than its bound (the size the
    archive states may be a lie).

    Raises:
        StatementError: it cannot be unpacked, or is larger than :data:`_ZIP_FILE_BYTES_MAX`.
    """
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
    return data


# ---------------------------------------------------------------- balances


def _balance(
    statement: _Statement, codes: tuple[str, ...], decimal_places: int
) -> tuple[int, str | None, int] | None:
    """``(signed minor units, currency, places)`` of the first balance of the first code
    in ``codes`` that the statement carries, or None.

    Raises:
        StatementError: that balance's amount cannot be read.
    """
    balances = list(statement.element.iterchildren("Bal"))
    for code in codes:
        for balance in balances:
            if (_text(balance, "Tp/CdOrPrtry/Cd") or "").upper() != code:
                continue
            amount = balance.find("Amt")
            currency = (amount.get("Ccy") if amount is not None else None) or statement.currency
            places = precision_of(currency, decimal_places)
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
    moved = sum(_signed(ln.amount, ln.direction) for ln in statement.lines)
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


def _read_entry(
    statement: _Statement, element: Any, index: int, decimal_places: int, found: _Found
) -> None:
    """Adds the entry's line, or one line per part of a batch entry (module docstring), to
    ``statement.lines``; an entry that is not booked, or is 0, goes to ``found.skipped``.

    Raises:
        StatementError: the entry's amount, direction or date cannot be read, or its parts
            in its currency do not add up to it.
    """
    where = f"{statement.where}, entry {index}"
    status = _status(element)
    if status not in (None, "BOOK"):
        why = _NOT_BOOKED.get(status, "not booked")
        found.skipped.append(
            SkippedLine(
                location=where,
                reason="pending",
                detail=f"status {status} ({why}): only booked entries are imported",
            )
        )
        return
    entry = _booked_entry(statement, element, where, decimal_places, found.warnings)
    if entry.amount == 0:
        found.skipped.append(
            SkippedLine(location=where, reason="zero_amount", detail="a booked entry of 0")
        )
        return
    parts = [tx for info in element.iterchildren("NtryDtls") for tx in info.iterchildren("TxDtls")]
    if len(parts) > 1:
        split = _split(entry, parts, found.warnings)
        if split is not None:
            _add_batch(statement, entry, parts, split, found.skipped)
            return
    reference = entry.reference
    if reference is None and len(parts) == 1:
        reference = real_reference(_text(parts[0], "Refs/AcctSvcrRef"))
    statement.lines.append(
        _line(
            statement,
            entry,
            parts,
            amount=entry.amount,
            direction=entry.direction,
            reference=reference,
            where=where,
        )
    )


def _status(entry: Any) -> str | None:
    """The entry's status code upper-cased (``Sts``, ``Sts/Cd`` or ``Sts/Prtry``), or None."""
    status = entry.find("Sts")
    if status is None:
        return None
    text = (status.text or "").strip() or _text(status, "Cd") or _text(status, "Prtry")
    return text.upper() if text else None


def _booked_entry(
    statement: _Statement, element: Any, where: str, decimal_places: int, warnings: list[str]
) -> _Entry:
    """The booked entry's amount, direction, date, reference and metadata.

    Raises:
        StatementError: its amount, direction or date cannot be read.
    """
    amount, direction, currency, places = _entry_amount(
        statement, element, where, decimal_places, warnings
    )
    date = _entry_date(statement, element, where, warnings)
    metadata: dict[str, Any] = {"source": statement.kind}
    value_date = _value_date(element)
    for key, value in (
        ("statement", statement.statement_id),
        ("entry_reference", _text(element, "NtryRef")),
        ("value_date", value_date.isoformat() if value_date else None),
    ):
        if value:
            metadata[key] = value
    if (_text(element, "RvslInd") or "").lower() in ("true", "1"):
        metadata["reversal"] = True
    return _Entry(
        element=element,
        where=where,
        amount=amount,
        direction=direction,
        currency=currency,
        places=places,
        date=date,
        reference=real_reference(_text(element, "AcctSvcrRef")),
        metadata=metadata,
    )


def _entry_amount(
    statement: _Statement, element: Any, where: str, decimal_places: int, warnings: list[str]
) -> tuple[int, Direction, str | None, int]:
    """``(amount in minor units, direction, currency, places)`` of the booked entry; a
    negative amount is booked the other way, with a warning.

    Raises:
        StatementError: no amount, an amount that cannot be read, or no CRDT/DBIT.
    """
    amount_element = element.find("Amt")
    if amount_element is None:
        raise StatementError("the entry has no amount (Amt)", location=where)
    currency = (amount_element.get("Ccy") or "").strip().upper() or statement.currency
    places = precision_of(currency, decimal_places)
    amount, negative = _minor(_text(element, "Amt"), places, where, "entry amount (Amt)")
    direction = _DIRECTIONS.get((_text(element, "CdtDbtInd") or "").upper())
    if direction is None:
        raise StatementError(
            "the entry has no credit/debit indicator (CdtDbtInd CRDT or DBIT)", location=where
        )
    if negative:
        direction = _opposite(direction)
        warnings.append(f"{where}: a negative amount; booked as a {direction}")
    return amount, direction, currency, places


def _entry_date(statement: _Statement, element: Any, where: str, warnings: list[str]) -> dt.date:
    """The booking date, else the value date, else (with a warning) the statement's
    creation date.

    Raises:
        StatementError: none of them, or one that is not a date.
    """
    written = _first_text(element, "BookgDt/Dt", "BookgDt/DtTm", "ValDt/Dt", "ValDt/DtTm")
    if written is None:
        if statement.created is None:
            raise StatementError(
                "the entry has no booking or value date (BookgDt, ValDt)", location=where
            )
        written = statement.created
        warnings.append(
            f"{where}: no booking or value date; dated by the {statement.word}'s creation date"
        )
    try:
        return _date(written)
    except ValueError:
        raise StatementError(
            f"the entry's date {written[:40]!r} is not a date", location=where
        ) from None


def _value_date(element: Any) -> dt.date | None:
    """The entry's value date, or None (also when it is not a date: it is only metadata)."""
    written = _first_text(element, "ValDt/Dt", "ValDt/DtTm")
    if written is None:
        return None
    try:
        return _date(written)
    except ValueError:
        return None


# ---------------------------------------------------------------- batch entries


def _split(
    entry: _Entry, parts: list[Any], warnings: list[str]
) -> list[tuple[int, Direction]] | None:
    """Each part's ``(amount, direction)`` in the entry's currency (a part without its own
    CdtDbtInd goes the entry's way), or None, with a warning, when a part has no amount in
    that currency.

    Raises:
        StatementError: a part's amount cannot be read.
    """
    split: list[tuple[int, Direction]] = []
    for number, part in enumerate(parts, start=1):
        text = _amount_in(part, entry.currency)
        if text is None:
            warnings.append(
                f"{entry.where}: a batch entry of {len(parts)} parts, part {number} has no "
                f"amount in {entry.currency or 'the entry currency'}; imported as one line"
            )
            return None
        where = f"{entry.where}, part {number}"
        amount, negative = _minor(text, entry.places, where, "part's amount (Amt)")
        direction = _DIRECTIONS.get((_text(part, "CdtDbtInd") or "").upper(), entry.direction)
        if negative:
            direction = _opposite(direction)
        split.append((amount, direction))
    return split


def _amount_in(part: Any, currency: str | None) -> str | None:
    """The part's first non-blank amount in ``currency`` (an amount without ``Ccy`` is in
    it), as written, or None."""
    for path in ("Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt"):
        amount = part.find(path)
        if amount is None or not (amount.text or "").strip():
            continue
        if ((amount.get("Ccy") or "").strip().upper() or currency) == currency:
            text: str = amount.text
            return text
    return None


def _add_batch(
    statement: _Statement,
    entry: _Entry,
    parts: list[Any],
    split: list[tuple[int, Direction]],
    skipped: list[SkippedLine],
) -> None:
    """Adds one line per part of a batch entry to ``statement.lines`` (a part of 0 to
    ``skipped``).

    Raises:
        StatementError: the parts do not add up to the entry.
    """
    total = sum(_signed(amount, direction) for amount, direction in split)
    expected = _signed(entry.amount, entry.direction)
    if total != expected:
        raise StatementError(
            f"its {len(parts)} parts sum to {_show(total, entry.places)} {entry.currency} but "
            f"the entry is {_show(expected, entry.places)} {entry.currency}",
            location=entry.where,
        )
    for number, (part, (amount, direction)) in enumerate(zip(parts, split, strict=True), start=1):
        where = f"{entry.where}, part {number}"
        if amount == 0:
            skipped.append(
                SkippedLine(
                    location=where, reason="zero_amount", detail="a part of 0 in a batch entry"
                )
            )
            continue
        statement.lines.append(
            _line(
                statement,
                entry,
                [part],
                amount=amount,
                direction=direction,
                reference=_part_reference(entry.reference, part),
                where=where,
            )
        )


def _part_reference(entry_reference: str | None, part: Any) -> str | None:
    """A batch part's reference: the entry's and the part's own (best of
    :data:`_PART_REFERENCES`) joined by ``/``, else whichever there is."""
    own = next(
        (ref for name in _PART_REFERENCES if (ref := real_reference(_text(part, f"Refs/{name}")))),
        None,
    )
    if entry_reference and own and own != entry_reference:
        return f"{entry_reference}/{own}"
    return entry_reference or own


# ---------------------------------------------------------------- lines


def _line(
    statement: _Statement,
    entry: _Entry,
    parts: list[Any],
    *,
    amount: int,
    direction: Direction,
    reference: str | None,
    where: str,
) -> StatementLine:
    """The line of ``entry`` made of ``parts`` (its transaction details: one part of a
    batch, or all of them when the entry is one line)."""
    metadata = dict(entry.metadata)
    if len(parts) == 1:  # the parties of several parts are not the line's
        (part,) = parts
        party = "Dbtr" if direction == "credit" else "Cdtr"  # the other side
        if counterparty := _first_text(part, f"RltdPties/{party}/Nm", f"RltdPties/{party}/Pty/Nm"):
            metadata["counterparty"] = counterparty
        if end_to_end_id := real_reference(_text(part, "Refs/EndToEndId")):
            metadata["end_to_end_id"] = end_to_end_id
    codes = (_transaction_code(source) for source in [*parts, entry.element])
    if code := next((c for c in codes if c), None):
        metadata["bank_transaction_code"] = code
    return StatementLine(
        amount=amount,
        direction=direction,
        date=entry.date,
        decimal_places=entry.places,
        account=statement.account,
        currency=entry.currency,
        bank_reference=reference,
        location=where,
        description=_description(entry.element, parts),
        metadata=metadata,
    )


def _description(entry: Any, parts: list[Any]) -> str | None:
    """The parts' unstructured remittance information, else their creditor reference, else
    their additional information; the entry's additional information instead when the parts
    have none of these or there are several of them."""
    texts: list[str] = []
    for path in ("RmtInf/Ustrd", "RmtInf/Strd/CdtrRefInf/Ref", "AddtlTxInf"):
        texts = [t for part in parts for t in _all_text(part, path)]
        if texts:
            break
    if not texts or len(parts) > 1:
        entry_text = _text(entry, "AddtlNtryInf")
        if entry_text:
            texts = [entry_text]
    return clean_text(*texts)


def _transaction_code(element: Any) -> str | None:
    """The bank transaction code: ``domain/family/subfamily``, else the proprietary one."""
    domain = _text(element, "BkTxCd/Domn/Cd")
    family = _text(element, "BkTxCd/Domn/Fmly/Cd")
    sub = _text(element, "BkTxCd/Domn/Fmly/SubFmlyCd")
    if domain:
        return "/".join(c for c in (domain, family, sub) if c)
    return _text(element, "BkTxCd/Prtry/Cd")
