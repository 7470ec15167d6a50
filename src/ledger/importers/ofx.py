"""OFX bank, credit-card and investment statements (1.x SGML, 2.x XML): a tolerant reader.

Tolerated: junk before the header, any line ends, lower-case tags, comments, CDATA, OFX's
own entities (a bare ``&`` is text), a wrong declared charset, aggregates left open
(``</STMTTRN>`` forgotten, no end tags at all), two ``<OFX>`` in one file. The text is
scanned once into an element tree with an explicit stack (no recursion), bounded by
:data:`DEPTH_MAX` and :data:`ELEMENTS_MAX`.

Imported (:func:`parse_ofx`): every ``STMTTRN`` of every ``STMTRS``, ``CCSTMTRS`` and
``INVSTMTRS`` (its cash lines, ``INVBANKTRAN``), several lists of a statement merged.
``TRNAMT`` > 0 is a credit, < 0 a debit, kept exactly (an amount finer than its currency
keeps its own decimal places, with a warning); the account is the statement's ``ACCTID``,
``FITID`` the bank reference; the date is ``DTPOSTED`` as written (its first 8 digits,
never moved to UTC; ``DTUSER`` if it is missing); the currency is ``CURDEF``, or the
transaction's ``CURRENCY/CURSYM`` (OFX 1.6 §5.2; ``ORIGCURRENCY`` only goes to metadata).

Skipped, with a reason: pending transactions (``BANKTRANLISTP``), zero amounts, investment
transactions that are not cash lines (``BUYSTOCK`` …). Warned: what deviates from OFX and
was read anyway (no ``LEDGERBAL``, several lists, overlong ids, a status other than 0 beside
a statement …). OFX has no opening balance, so balances are not checked.

Refused (:class:`StatementError`): no ``<OFX>``, no statement, a transaction whose amount or
date cannot be read ("statement 1, transaction 3: …"), a file too large or too deep. A file
without a statement whose status is an error (15500 wrong password, 2000 server error) is
the bank's error response (:class:`BankErrorResponse`), not "0 transactions".
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, NoReturn

from ledger.importers.common import (
    BankErrorResponse,
    ParsedStatement,
    SkippedLine,
    StatementError,
    StatementLine,
    clean_text,
    exact_minor_units,
    precision_of,
    real_reference,
)

DEPTH_MAX: Final = 64  # OFX nests about 10 deep; deeper is not an OFX file
ELEMENTS_MAX: Final = 1_000_000  # elements of one file (a transaction has 6 to 12)
HEADER_SCAN_BYTES: Final = 4096  # where the header and the XML declaration are looked for
VALUE_SHOWN_MAX: Final = 40  # characters of a bad value quoted in a message
STATUS_MESSAGE_MAX: Final = 300  # characters of the bank's status message kept
METADATA_VALUE_MAX: Final = 255  # characters of one metadata value (OFX's own longest is 255)

STATEMENT_KINDS: Final = {
    "STMTRS": ("OFX bank statement", "BANKACCTFROM"),
    "CCSTMTRS": ("OFX credit card statement", "CCACCTFROM"),
    "INVSTMTRS": ("OFX investment statement", "INVACCTFROM"),
}
STATEMENTS: Final = frozenset(STATEMENT_KINDS)
ID_LENGTHS: Final = {"BANKID": 9, "ACCTID": 22}  # the most OFX allows (tolerated beyond)
TRANSACTION_LISTS: Final = frozenset({"BANKTRANLIST", "INVTRANLIST"})
PENDING_LISTS: Final = frozenset({"BANKTRANLISTP"})
# Metadata keys of a transaction and the leaf of ``STMTTRN`` each is read from.
TRANSACTION_METADATA: Final = (
    ("trntype", "TRNTYPE"),
    ("checknum", "CHECKNUM"),
    ("refnum", "REFNUM"),
    ("sic", "SIC"),
    ("payee_id", "PAYEEID"),
    ("correct_fitid", "CORRECTFITID"),
    ("correct_action", "CORRECTACTION"),
)
# Metadata keys of the account and the leaf of its ``…ACCTFROM`` each is read from.
ACCOUNT_METADATA: Final = (
    ("bank_id", "BANKID"),
    ("branch_id", "BRANCHID"),
    ("broker_id", "BROKERID"),
    ("account_type", "ACCTTYPE"),
)

# Leaf elements (a value, no children) of the statement responses: in SGML they have no
# end tag, so a value ends at the next tag. Unknown elements holding text are leaves too.
LEAVES: Final = frozenset(
    """
    ACCTID ACCTKEY ACCTTYPE ADDR1 ADDR2 ADDR3 AVAILCASH BALAMT BALTYPE BANKID BRANCHID
    BROKERID BUYPOWER BUYTYPE CHECKNUM CITY CLTCOOKIE CODE COMMISSION CORRECTACTION
    CORRECTFITID COUNTRY CURDEF CURRATE CURSYM DESC DTACCTUP DTASOF DTAVAIL DTEND DTEXPIRE
    DTPOSTED DTPRICEASOF DTPROFUP DTSERVER DTSETTLE DTSTART DTTRADE DTTRAN DTUSER
    EXTDNAME FEES FID FITID HELDINACCT INCOMETYPE INTU.BID INTU.USERID INV401KSOURCE
    LANGUAGE LOAD MARGINBALANCE MEMO MESSAGE MKTGINFO MKTVAL NAME OPTBUYTYPE OPTSELLTYPE
    ORG PAYACCT PAYEEID PHONE POSTALCODE POSTYPE REFNUM RELFITID RELTYPE SECURED SELLTYPE
    SESSCOOKIE SEVERITY SHORTBALANCE SIC SRVRTID STATE SUBACCTFROM SUBACCTFUND SUBACCTSEC
    SUBACCTTO TAXES TOTAL TRNAMT TRNTYPE TRNUID TSKEYEXPIRE UNIQUEID UNIQUEIDTYPE UNITPRICE
    UNITS USERKEY VALUE
    """.split()  # noqa: SIM905
)

# Aggregates that never contain themselves: a second start tag of one that is still open
# closes the first (a bank that forgot ``</STMTTRN>``).
AGGREGATES: Final = frozenset(
    """
    OFX SIGNONMSGSRSV1 SIGNONMSGSRSV2 SONRS STATUS FI BANKMSGSRSV1 BANKMSGSRSV2 STMTTRNRS
    STMTRS BANKACCTFROM BANKACCTTO CCACCTFROM CCACCTTO BANKTRANLIST BANKTRANLISTP STMTTRN
    STMTTRNP PAYEE CURRENCY ORIGCURRENCY LEDGERBAL AVAILBAL BALLIST BAL CREDITCARDMSGSRSV1
    CREDITCARDMSGSRSV2 CCSTMTTRNRS CCSTMTRS INVSTMTMSGSRSV1 INVSTMTMSGSRSV2 INVSTMTTRNRS
    INVSTMTRS INVACCTFROM INVACCTTO INVTRANLIST INVBANKTRAN INVPOSLIST INVBAL INVTRAN
    SECID SECLISTMSGSRSV1 SECLIST STMTENDRS CCSTMTENDRS
    """.split()  # noqa: SIM905
)

# Where the aggregates of a statement response belong: one that starts while its parent is
# open ends what was opened after that parent and never closed (files without end tags).
_MESSAGE_SETS = frozenset(
    f"{kind}MSGSRSV{version}"
    for kind in ("SIGNON", "BANK", "CREDITCARD", "INVSTMT", "SECLIST")
    for version in (1, 2)
)
PARENTS: Final = {
    **dict.fromkeys(_MESSAGE_SETS, frozenset({"OFX"})),
    "SONRS": frozenset({"SIGNONMSGSRSV1", "SIGNONMSGSRSV2"}),
    **dict.fromkeys(("DTSERVER", "LANGUAGE"), frozenset({"SONRS"})),
    "STMTTRNRS": frozenset({"BANKMSGSRSV1", "BANKMSGSRSV2"}),
    "CCSTMTTRNRS": frozenset({"CREDITCARDMSGSRSV1", "CREDITCARDMSGSRSV2"}),
    "INVSTMTTRNRS": frozenset({"INVSTMTMSGSRSV1", "INVSTMTMSGSRSV2"}),
    "STMTRS": frozenset({"STMTTRNRS"}),
    "CCSTMTRS": frozenset({"CCSTMTTRNRS"}),
    "INVSTMTRS": frozenset({"INVSTMTTRNRS"}),
    **dict.fromkeys(
        ("BANKTRANLIST", "BANKTRANLISTP", "LEDGERBAL", "AVAILBAL", "BALLIST"),
        frozenset({"STMTRS", "CCSTMTRS", "INVSTMTRS"}),
    ),
    **dict.fromkeys(("INVTRANLIST", "INVPOSLIST", "INVBAL"), frozenset({"INVSTMTRS"})),
    "INVBANKTRAN": frozenset({"INVTRANLIST"}),
    "STMTTRN": frozenset({"BANKTRANLIST", "INVBANKTRAN"}),
}

# OFX status codes a bank answers with instead of a statement (OFX 2.1.1 §3.1.5, §7.2.5).
STATUS_MEANINGS: Final = {
    "2000": "general error",
    "2001": "invalid account",
    "2002": "general account error",
    "2003": "account not found",
    "2004": "account closed",
    "2005": "account not authorized",
    "2019": "duplicate request",
    "2020": "invalid date",
    "2027": "invalid date range",
    "2028": "requested element unknown",
    "13000": "user id and password will be sent out-of-band",
    "13500": "unable to enroll user",
    "15000": "user must change the password",
    "15500": "the sign-on is invalid (wrong user id or password)",
    "15501": "customer account already in use",
    "15502": "user id and password are locked out",
    "15503": "unable to process embedded transaction due to out-of-date password",
    "15510": "client UID error",
    "15511": "user must contact the bank",
}

# A tag: end slash, name, empty-element slash; or anything else in "<…>" (a processing
# instruction, a declaration, text). A "<" without its ">" is text.
_TAG = re.compile(r"<(/?)\s*([A-Za-z_][A-Za-z0-9_.:-]*)[^<>]*?(/?)>|<[^<>]*>")
_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
# What may follow the date: a time (HHMMSS.XXX, some banks write HHMMSS:XXX) and a zone
# ([-5:EST], [+10:AEST], [0:GMT], [+5.30:IST]); only the date is read.
_DATE_REST = re.compile(r"[\d.:]{0,20}\s*(\[\s*[+-]?\d{1,2}([.:]?\d{1,2})?(:[^\[\]]*)?\])?")
_AMOUNT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
# The entities of OFX (SGML and XML) and character references, with their ";": a bare "&"
# is text ("AT&T", "M&S"), never the start of an HTML entity such as "&not" or "&copy".
_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|amp|lt|gt|quot|apos|nbsp);")
_ENTITIES: Final = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'", "nbsp": " "}


def _entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if not name.startswith("#"):
        return _ENTITIES[name]
    code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
    if 0 < code < 0x110000 and not 0xD800 <= code < 0xE000:
        return chr(code)
    return match.group(0)


def _unescape(text: str) -> str:
    return _ENTITY.sub(_entity, text)


class Node:
    """One OFX element: a leaf (``text`` set) or an aggregate (``children``)."""

    __slots__ = ("_index", "children", "closed", "name", "parent", "text")

    def __init__(self, name: str, parent: Node | None) -> None:
        self.name = name
        self.parent = parent
        self.text: str | None = None
        self.children: list[Node] = []
        self.closed = False  # an end tag closed it (else it was left open: SGML)
        self._index: dict[str, Node] | None = None

    def child(self, *path: str) -> Node | None:
        """The first child named ``path[0]``, its first child named ``path[1]`` …"""
        node: Node | None = self
        for name in path:
            if node is None:
                return None
            if node._index is None:  # built once the tree is complete
                node._index = {}
                for c in node.children:
                    node._index.setdefault(c.name, c)
            node = node._index.get(name)
        return node

    def value(self, *path: str) -> str | None:
        """The text of the leaf at ``path``, unescaped and stripped; None if absent/empty."""
        node = self.child(*path)
        if node is None or node.text is None:
            return None
        text = node.text
        if "&" in text:  # twice: some banks escape twice ("&amp;lt;")
            text = _unescape(_unescape(text))
        return text.strip() or None

    def walk(self, until: frozenset[str] = frozenset()) -> list[Node]:
        """This element and all below it, in document order (iteratively), not looking
        inside the elements named in ``until`` (they are listed)."""
        out: list[Node] = []
        todo = [self]
        while todo:
            node = todo.pop()
            out.append(node)
            if node is self or node.name not in until:
                todo.extend(reversed(node.children))
        return out


def parse_ofx(content: bytes, decimal_places: int) -> ParsedStatement:
    """Every booked transaction of every statement of an OFX file (module docstring).

    Raises:
        StatementError: not an OFX file, no statement in it, or a transaction that cannot
            be read (named: "statement 1, transaction 3").
        BankErrorResponse: the file is the bank's error status instead of a statement.
    """
    try:
        return _parse(content, decimal_places)
    except (StatementError, BankErrorResponse):
        raise
    except (RecursionError, MemoryError):  # not expected (no recursion), but never a 500
        raise StatementError("the OFX file is too large or too deeply nested") from None
    except Exception as e:  # a reader bug must still be a plain 400, never a crash
        raise StatementError(f"the OFX file could not be read ({type(e).__name__})") from None


def _parse(content: bytes, decimal_places: int) -> ParsedStatement:
    """:func:`parse_ofx` without its guard against reader bugs."""
    warnings: list[str] = []
    text = _decode(content, warnings)
    start = _find_ofx_start(text)
    if start < 0:
        raise StatementError("this is not an OFX file: it has no <OFX> element")
    nodes = _build_tree(text[start:]).walk()  # every <OFX> of the file (some downloads hold two)
    statements = [n for n in nodes if n.name in STATEMENT_KINDS]
    statuses = _statuses(nodes)
    if not statements:
        _refuse_without_statement(statuses)
    warnings.extend(
        f"the bank reported status {status.described(f' in {status.response}')}"
        for status in statuses
        if status.is_problem
    )
    lines: list[StatementLine] = []
    skipped: list[SkippedLine] = []
    kinds: list[str] = []
    for number, statement in enumerate(statements, start=1):
        kind = STATEMENT_KINDS[statement.name][0]
        if kind not in kinds:
            kinds.append(kind)
        _read_statement(statement, number, decimal_places, lines, skipped, warnings)
    return ParsedStatement(kind=", ".join(kinds), lines=lines, skipped=skipped, warnings=warnings)


# -- text -------------------------------------------------------------------------------


def _decode(content: bytes, warnings: list[str]) -> str:
    """The file as text: a BOM, else valid UTF-8, else the declared charset, else cp1252,
    else latin-1 (which decodes any bytes); a warning when the declared charset failed."""
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if content.startswith(bom):
            return content[len(bom) :].decode(codec, errors="replace")
    head = content[:200]
    if head.count(b"\x00") * 3 > len(head):  # UTF-16 without a BOM: every other byte is 0
        codec = "utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"
        return content.decode(codec, errors="replace")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _declared_codec(content[:HEADER_SCAN_BYTES].decode("latin-1"))
    candidates = [c for c in (declared, "cp1252") if c is not None and c != "utf-8"]
    for codec in candidates:  # (utf-8 failed above)
        try:
            text = content.decode(codec)
            break
        except UnicodeDecodeError:
            continue
    else:
        codec, text = "latin-1", content.decode("latin-1")  # latin-1 decodes any bytes
    if declared and codec != declared:
        warnings.append(f"the file is not valid {declared} as it declares; read as {codec}")
    return text


def _declared_codec(head: str) -> str | None:
    """The codec the header (``ENCODING``/``CHARSET``) or XML declaration names, if known."""
    names = []
    xml = re.search(r"""encoding\s*=\s*["']([A-Za-z0-9_.:-]{1,40})["']""", head)
    if xml:
        names.append(xml.group(1))
    encoding = re.search(r"ENCODING:\s*([A-Za-z0-9_-]{1,40})", head, re.IGNORECASE)
    if encoding and encoding.group(1).upper() in ("UTF-8", "UTF8", "UNICODE"):
        names.append("utf-8")
    charset = re.search(r"CHARSET:\s*([A-Za-z0-9_-]{1,40})", head, re.IGNORECASE)
    if charset:
        value = charset.group(1).upper()
        names.append("cp1252" if value in ("1252", "WINDOWS-1252", "NONE") else value)
    for name in names:
        if name.upper().replace("-", "") in ("88591", "ISO88591", "LATIN1"):
            name = "cp1252"  # banks that say ISO-8859-1 write Windows-1252
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            continue
        # character sets only (no "zlib", "hex", "punycode" …: not text, or slow)
        if codec.startswith(("iso8859", "cp", "utf-", "mac-", "koi8")) or codec == "ascii":
            return codec
    return None


def _find_ofx_start(text: str) -> int:
    """Where the ``<OFX>`` element starts (any case), or -1."""
    match = re.search(r"<\s*OFX(\s[^<>]*)?>", text, re.IGNORECASE)
    return match.start() if match else -1


# -- tree -------------------------------------------------------------------------------


def _without_comments(text: str) -> str:
    """``text`` without ``<!-- comments -->``, ``<![CDATA[…]]>`` turned into escaped text."""
    if "<!" not in text:
        return text
    out: list[str] = []
    position = 0
    while True:
        start = text.find("<!", position)
        if start < 0:
            break
        if text.startswith("<!--", start):
            end = text.find("-->", start + 4)
            out.append(text[position:start])
            position = len(text) if end < 0 else end + 3
        elif text.startswith("<![CDATA[", start):
            end = text.find("]]>", start + 9)
            out.append(text[position:start])
            out.append(
                text[start + 9 : len(text) if end < 0 else end]
                .replace("&", "&amp;")
                .replace("<", "&lt;")
                .replace(">", "&gt;")
            )
            position = len(text) if end < 0 else end + 3
        else:
            out.append(text[position : start + 2])
            position = start + 2
    out.append(text[position:])
    return "".join(out)


def _build_tree(text: str) -> Node:
    """The element tree of the body, SGML or XML, in one pass with an explicit stack.

    A leaf's value runs to the next tag (its end tag, if any, is consumed). An element not
    known as a leaf that gets text before any child is a leaf too. An element left open
    without text when an end tag of an enclosing element comes was an empty SGML leaf: its
    would-be children belong to its parent. Linear in the size of the text.

    Raises:
        StatementError: more than :data:`ELEMENTS_MAX` elements, or nested deeper than
            :data:`DEPTH_MAX`.
    """
    return _TreeBuilder().build(_without_comments(text))


class _TreeBuilder:
    """The state of :func:`_build_tree`: the open aggregates and the leaf being read."""

    def __init__(self) -> None:
        self.root = Node("#root", None)
        self.stack: list[Node] = [self.root]  # the open aggregates, outermost first
        self.open_names: dict[str, int] = {}  # how many of each name are on the stack
        self.leaf: Node | None = None  # the leaf whose value is being read
        self.parts: list[str] = []  # the pieces of its value
        self.count = 0  # elements created

    def build(self, text: str) -> Node:
        """The tree of ``text`` (comments already removed), under a ``#root`` node."""
        position = 0
        for match in _TAG.finditer(text):
            lt, gt = match.span()
            if lt > position:
                self.add_text(text[position:lt])
            position = gt
            closing, name, empty = match.groups()
            if name is None:
                if text[lt + 1 : lt + 2] not in ("?", "!"):
                    self.add_text(text[lt:gt])  # "<3>" in a value; else a declaration, skipped
            elif closing:
                self.end_tag(name.upper())
            else:
                self.start_tag(name.upper(), empty=bool(empty))
        if position < len(text):
            self.add_text(text[position:])
        self.end_leaf()
        self.close_to(1)
        return self.root

    def start_tag(self, name: str, *, empty: bool) -> None:
        """A new element ``name`` in the innermost open aggregate it may belong to."""
        self.end_leaf()
        self.close_ended_by(name)
        self.count += 1
        if self.count > ELEMENTS_MAX:
            raise StatementError(
                f"the OFX file is too large: more than {ELEMENTS_MAX:,} elements; split it"
            )
        parent = self.stack[-1]
        node = Node(name, parent)
        parent.children.append(node)
        if empty:
            node.text = ""
            node.closed = True
        elif name in LEAVES:
            self.leaf = node
        else:
            if len(self.stack) > DEPTH_MAX:
                raise StatementError(
                    f"the OFX file nests elements more than {DEPTH_MAX} deep; it is not a statement"
                )
            self.stack.append(node)
            self.open_names[name] = self.open_names.get(name, 0) + 1

    def close_ended_by(self, name: str) -> None:
        """Close what the start of an element ``name`` shows has ended, end tag or not."""
        if name in AGGREGATES and self.open_names.get(name):
            self.close_to(self.innermost({name}))  # a second STMTTRN while one is open
        parents = PARENTS.get(name)
        if parents is not None:
            index = self.innermost(parents)
            if index:
                self.close_to(index + 1)  # LEDGERBAL after an open STMTTRN: it ended

    def end_tag(self, name: str) -> None:
        """Close the leaf or the innermost open aggregate ``name``; an end tag of nothing
        open is ignored."""
        done = self.end_leaf()
        if done is not None and done.name == name:
            done.closed = True
            return
        index = self.innermost({name})
        if index:
            self.close_to(index + 1)
            self.stack[index].closed = True
            self.close_to(index)

    def innermost(self, names: Collection[str]) -> int:
        """The stack index of the innermost open aggregate named one of ``names``; 0 (the
        root's) if none is open."""
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].name in names:
                return index
        return 0

    def add_text(self, piece: str) -> None:
        """Text between tags: part of the leaf being read; else, if it is not blank, the
        value of the open element (an unknown leaf) when that can be one; else ignored."""
        if self.leaf is not None:
            self.parts.append(piece)
            return
        top = self.stack[-1]
        if (
            piece.strip()
            and top is not self.root
            and not top.children
            and top.text is None
            and top.name not in AGGREGATES
        ):
            self.close_to(len(self.stack) - 1)  # an unknown element holding text: a leaf
            self.leaf = top
            self.parts.append(piece)

    def end_leaf(self) -> Node | None:
        """The leaf whose value was being read, now given its value; None if none was."""
        done = self.leaf
        if done is not None:
            done.text = "".join(self.parts)
            self.parts.clear()
            self.leaf = None
        return done

    def close_to(self, index: int) -> None:
        """Close the elements open above ``stack[index - 1]``. One never closed and without
        text was an empty SGML leaf: its would-be children go to the element above it
        (handled from the bottom up, so each element moves once: linear)."""
        target = self.stack[index - 1]
        popped = self.stack[index:]
        del self.stack[index:]
        for node in popped:  # each one is the last child of the one before
            self.open_names[node.name] -= 1
            if (
                not node.closed
                and node.text is None
                and node.children
                and node.name not in AGGREGATES
            ):
                for child in node.children:
                    child.parent = target
                target.children.extend(node.children)
                node.children = []
                node.text = ""
            else:
                target = node


# -- statuses ---------------------------------------------------------------------------


class _Status(NamedTuple):
    """The ``STATUS`` of a response (``SONRS``, ``…TRNRS``), as it is quoted."""

    response: str  # the response it answers: SONRS, STMTTRNRS …
    code: str | None  # without leading zeros ("0": success); None if not given
    severity: str | None  # upper-cased: INFO, WARN, ERROR; None if not given
    message: str | None  # the bank's text, cleaned, cut after STATUS_MESSAGE_MAX characters

    @property
    def is_problem(self) -> bool:
        """Whether the bank reported something other than success (a code other than 0)."""
        return self.code not in (None, "0")

    def described(self, where: str = "") -> str:
        """``15500 (ERROR): the text`` (``where``, such as " in SONRS", after the severity)."""
        message = f": {self.message}" if self.message else ""
        return f"{self.code} ({self.severity or 'no severity'}){where}{message}"


def _statuses(nodes: list[Node]) -> list[_Status]:
    """The ``STATUS`` of every response (sign-on, statement) among ``nodes``."""
    statuses = []
    for node in nodes:
        if node.name == "STATUS" and node.parent is not None and _is_response(node.parent.name):
            statuses.append(_read_status(node, node.parent.name))
    return statuses


def _is_response(name: str) -> bool:
    return name == "SONRS" or name.endswith("TRNRS")


def _read_status(status: Node, response: str) -> _Status:
    code = status.value("CODE")
    severity = status.value("SEVERITY")
    message = clean_text(status.value("MESSAGE"))
    if message and len(message) > STATUS_MESSAGE_MAX:
        message = message[:STATUS_MESSAGE_MAX] + "…"
    return _Status(
        response,
        (code.lstrip("0") or "0") if code else None,
        severity.upper() if severity else None,
        message,
    )


def _refuse_without_statement(statuses: list[_Status]) -> NoReturn:
    """Refuse a file without a statement: the bank's error response if a status is an error
    (a code other than 0, severity ERROR or none given), else not a statement file.

    Raises:
        BankErrorResponse: the first such error status.
        StatementError: none is; the message quotes the first status that is not success.
    """
    for status in statuses:
        if status.is_problem and status.severity in (None, "ERROR"):
            meaning = STATUS_MEANINGS.get(status.code or "", "")
            said = f"{meaning}, " if meaning else ""
            raise BankErrorResponse(
                "the OFX file is the bank's error response, not a statement: status "
                f"{status.code}, {said}severity {status.severity or 'not given'}"
                + (f"; the bank says: {status.message}" if status.message else ""),
                details={
                    "status_code": status.code,
                    "severity": "ERROR",  # also when none was given
                    "bank_message": status.message,
                },
            )
    reported = next((status for status in statuses if status.is_problem), None)
    raise StatementError(
        "the OFX file holds no statement (no STMTRS, CCSTMTRS or INVSTMTRS)"
        + (f"; the bank reported status {reported.described()}" if reported else "")
    )


# -- statements -------------------------------------------------------------------------


@dataclass(frozen=True)
class _StatementHeader:
    """What every transaction of one statement takes from the statement."""

    where: str  # "statement 2", for messages
    currency: str | None  # CURDEF, if it is a currency code
    account: str | None  # ACCTID
    metadata: dict[str, Any]  # source, statement number, the account's bank/branch/type


def _read_statement(
    statement: Node,
    number: int,
    decimal_places: int,
    lines: list[StatementLine],
    skipped: list[SkippedLine],
    warnings: list[str],
) -> None:
    """Append the booked lines, skipped lines and warnings of ``statement`` (a STMTRS,
    CCSTMTRS or INVSTMTRS, the ``number``-th of the file) to ``lines``, ``skipped`` and
    ``warnings``.

    Raises:
        StatementError: a transaction whose amount or date cannot be read.
    """
    where = f"statement {number}"
    currency = _statement_currency(statement, where, warnings)
    account_element, account = _statement_account(statement, where, warnings)
    metadata: dict[str, Any] = {"source": "ofx", "statement": str(number)}
    for key, leaf in ACCOUNT_METADATA:
        value = statement.value(account_element, leaf)
        if value:
            metadata[key] = value
    _warn_about_layout(statement, where, metadata.get("bank_id"), account, warnings)
    header = _StatementHeader(where, currency, account, metadata)
    _read_transactions(statement, header, decimal_places, lines, skipped, warnings)


def _statement_currency(statement: Node, where: str, warnings: list[str]) -> str | None:
    """The statement's ``CURDEF``; None, with a warning, if it is missing or not a code."""
    written = statement.value("CURDEF")
    currency = _currency(written)
    if written is None:
        warnings.append(f"{where} has no CURDEF (default currency); its currency is unknown")
    elif currency is None:
        warnings.append(
            f"{where}: CURDEF {_shown(written)!r} is not a currency code; its currency is unknown"
        )
    return currency


def _statement_account(statement: Node, where: str, warnings: list[str]) -> tuple[str, str | None]:
    """The element that names the statement's account (``BANKACCTFROM`` for a STMTRS …)
    and its ``ACCTID``. Some banks use another ``…ACCTFROM`` than the statement's kind
    has: read, with a warning. No ``ACCTID``: None, with a warning."""
    element = STATEMENT_KINDS[statement.name][1]
    account = statement.value(element, "ACCTID")
    if account:
        return element, account
    other = next((c for c in statement.children if c.name.endswith("ACCTFROM")), None)
    account = other.value("ACCTID") if other is not None else None
    if other is not None and account:
        warnings.append(f"{where} names its account in {other.name}, not {element}")
        return other.name, account
    warnings.append(f"{where} has no {element}/ACCTID (account number)")
    return element, None


def _warn_about_layout(
    statement: Node, where: str, bank_id: str | None, account: str | None, warnings: list[str]
) -> None:
    """Warn about what deviates from OFX in the statement's layout and was read anyway."""
    for element, value in (("BANKID", bank_id), ("ACCTID", account)):
        if value and len(value) > ID_LENGTHS[element]:
            warnings.append(
                f"{where}: {element} has {len(value)} characters, more than the"
                f" {ID_LENGTHS[element]} OFX allows; read as given"
            )
    lists = [c for c in statement.children if c.name in TRANSACTION_LISTS]
    if len(lists) > 1:
        warnings.append(
            f"{where} has {len(lists)} transaction lists ({lists[0].name});"
            " their transactions were merged"
        )
    if statement.name != "INVSTMTRS" and statement.child("LEDGERBAL") is None:
        warnings.append(f"{where} has no LEDGERBAL (closing balance)")


def _read_transactions(
    statement: Node,
    header: _StatementHeader,
    decimal_places: int,
    lines: list[StatementLine],
    skipped: list[SkippedLine],
    warnings: list[str],
) -> None:
    """Read every transaction of ``statement`` in document order, numbered from 1: a
    ``STMTTRN`` (also an investment statement's cash line) is a line or skipped (pending,
    zero); any other investment transaction is skipped."""
    entries = 0
    without_fitid = 0
    for node in statement.walk(until=STATEMENTS):  # a statement left open holds no other
        if node.name in ("STMTTRN", "STMTTRNP"):
            entries += 1
            location = f"{header.where}, transaction {entries}"
            entry = _read_entry(node, statement, location, header, decimal_places, warnings)
            if isinstance(entry, SkippedLine):
                skipped.append(entry)
                continue
            if entry.bank_reference is None:
                without_fitid += 1
            lines.append(entry)
        elif _is_investment_transaction(node):
            entries += 1
            skipped.append(_not_a_cash_line(node, f"{header.where}, transaction {entries}"))
    if without_fitid:
        warnings.append(
            f"{header.where}: {without_fitid} transaction(s) have no FITID or only a placeholder"
        )


def _read_entry(
    node: Node,
    statement: Node,
    location: str,
    header: _StatementHeader,
    decimal_places: int,
    warnings: list[str],
) -> StatementLine | SkippedLine:
    """The booked line of a ``STMTTRN``, or why it is skipped (pending, zero amount)."""
    if node.name == "STMTTRNP" or _inside(node, PENDING_LISTS, statement):
        return SkippedLine(
            location=location,
            reason="pending",
            detail="a pending transaction (BANKTRANLISTP), not booked yet",
        )
    line = _read_transaction(node, location, header, decimal_places, warnings)
    if line is None:
        return SkippedLine(location=location, reason="zero_amount", detail="TRNAMT is 0")
    return line


def _inside(node: Node, names: frozenset[str], top: Node) -> bool:
    """Whether an element named in ``names`` encloses ``node`` below ``top``."""
    parent = node.parent
    while parent is not None and parent is not top:
        if parent.name in names:
            return True
        parent = parent.parent
    return False


def _is_investment_transaction(node: Node) -> bool:
    """An aggregate of an ``INVTRANLIST`` other than a cash line (``BUYSTOCK``, ``INCOME`` …)."""
    return (
        node.parent is not None
        and node.parent.name == "INVTRANLIST"
        and node.name not in ("INVBANKTRAN", "DTSTART", "DTEND")
        and bool(node.children)
    )


def _not_a_cash_line(node: Node, location: str) -> SkippedLine:
    """The skipped line of an investment transaction, named by its (INVTRAN's) FITID."""
    found = next((n for n in node.walk() if n.name == "FITID"), None)
    fitid = found.value() if found is not None else None
    return SkippedLine(
        location=location,
        reason="not_a_transaction",
        detail=f"an investment transaction {node.name}, not a cash line"
        + (f" (FITID {fitid[:VALUE_SHOWN_MAX]})" if fitid else ""),
    )


# -- transactions -----------------------------------------------------------------------


def _read_transaction(
    node: Node,
    location: str,
    header: _StatementHeader,
    decimal_places: int,
    warnings: list[str],
) -> StatementLine | None:
    """The booked line of the ``STMTTRN`` ``node``; None if its amount is 0.

    Raises:
        StatementError: its ``TRNAMT`` or booking date is missing or cannot be read.
    """
    currency, currency_metadata = _transaction_currency(node, header.currency, location, warnings)
    amount = _transaction_amount(node, currency, decimal_places, location, warnings)
    if amount is None:
        return None
    minor_units, negative, places = amount
    date = _booking_date(node, location, warnings)
    name = node.value("NAME") or node.value("PAYEE", "NAME")
    metadata = {**header.metadata, **currency_metadata, **_transaction_metadata(node, name)}
    return StatementLine(
        amount=minor_units,
        direction="debit" if negative else "credit",
        date=date,
        decimal_places=places,
        account=header.account,
        currency=currency,
        bank_reference=real_reference(node.value("FITID")),
        location=location,
        description=_description(name, node.value("MEMO")),
        metadata={k: v[:METADATA_VALUE_MAX] for k, v in metadata.items() if v is not None},
    )


def _transaction_currency(
    node: Node, statement_currency: str | None, location: str, warnings: list[str]
) -> tuple[str | None, dict[str, str | None]]:
    """The currency of the transaction's amount, and the metadata that tells about a
    conversion (OFX 1.6 §5.2): with a ``CURRENCY`` aggregate the amounts are in its
    ``CURSYM`` (``CURRATE`` converts them to ``CURDEF``); with ``ORIGCURRENCY`` they are in
    ``CURDEF`` already, converted from its ``CURSYM``."""
    converted = node.child("CURRENCY")
    symbol = converted.value("CURSYM") if converted is not None else None
    if converted is not None and symbol:
        currency = _currency(symbol)
        if currency is None:
            warnings.append(f"{location}: CURRENCY/CURSYM is not a currency code; ignored")
            return statement_currency, {}
        if currency == statement_currency:
            return currency, {}
        return currency, {
            "statement_currency": statement_currency,
            "currency_rate": converted.value("CURRATE"),
        }
    original = node.child("ORIGCURRENCY")
    symbol = original.value("CURSYM") if original is not None else None
    if original is not None and symbol:
        return statement_currency, {
            "original_currency": symbol,
            "original_rate": original.value("CURRATE"),
        }
    return statement_currency, {}


def _transaction_amount(
    node: Node, currency: str | None, decimal_places: int, location: str, warnings: list[str]
) -> tuple[int, bool, int] | None:
    """``TRNAMT`` as (minor units, negative, decimal places); None if it is 0. The places
    are the currency's, or more (with a warning) for an amount finer than its currency.

    Raises:
        StatementError: ``TRNAMT`` is missing or not an amount.
    """
    places = precision_of(currency, decimal_places)
    raw = node.value("TRNAMT")
    if raw is None:
        raise StatementError("TRNAMT (the amount) is missing", location=location)
    amount, negative, exact_places = _amount(raw, places, location)
    if amount == 0:
        return None
    if exact_places > places:
        # Brokerages give a fund's cash lines in 4 decimals: kept exactly, never rounded.
        warnings.append(
            f"{location}: TRNAMT {_shown(raw)} has more decimals than"
            f" {currency or 'the currency'} ({places}); kept exactly, with {exact_places}"
            " decimal places"
        )
    return amount, negative, max(places, exact_places)


def _booking_date(node: Node, location: str, warnings: list[str]) -> dt.date:
    """``DTPOSTED``; ``DTUSER``, with a warning, if ``DTPOSTED`` is missing.

    Raises:
        StatementError: both are missing, or the one read is not a date.
    """
    date = _date(node, "DTPOSTED", location)
    if date is not None:
        return date
    date = _date(node, "DTUSER", location)
    if date is None:
        raise StatementError("DTPOSTED (the booking date) is missing", location=location)
    warnings.append(f"{location} has no DTPOSTED (booking date); its DTUSER was used")
    return date


def _transaction_metadata(node: Node, name: str | None) -> dict[str, str]:
    """What the line's metadata keeps of the ``STMTTRN`` besides its amount and currency;
    ``name`` is its payee (``NAME`` or ``PAYEE/NAME``)."""
    metadata: dict[str, str] = {}
    for key, element in TRANSACTION_METADATA:
        value = node.value(element)
        if value:
            metadata[key] = value
    if name:
        metadata["counterparty"] = name
    to_account = node.value("BANKACCTTO", "ACCTID") or node.value("CCACCTTO", "ACCTID")
    if to_account:
        metadata["counterparty_account"] = to_account
    user_date = node.value("DTUSER")
    if user_date and _DATE.match(user_date):
        metadata["user_date"] = user_date[:8]
    if node.parent is not None and node.parent.name == "INVBANKTRAN":
        fund = node.parent.value("SUBACCTFUND")
        if fund:
            metadata["subacctfund"] = fund
    return metadata


def _description(name: str | None, memo: str | None) -> str | None:
    """NAME and MEMO; only MEMO when it repeats NAME (banks cut NAME at 32 characters and
    give the whole text in MEMO)."""
    short, full = clean_text(name), clean_text(memo)
    if short and full and full.startswith(short):
        return full
    return clean_text(short, full)


def _currency(value: str | None) -> str | None:
    """An ISO 4217 code (three letters, any case), upper-cased; else None."""
    code = (value or "").strip().upper()
    return code if len(code) == 3 and code.isascii() and code.isalpha() else None


def _shown(value: str) -> str:
    return value if len(value) <= VALUE_SHOWN_MAX else value[:VALUE_SHOWN_MAX] + "…"


def _amount(raw: str, places: int, location: str) -> tuple[int, bool, int]:
    """``TRNAMT`` as minor units: "-12.34", "+12.34", "12,34", " 12.34 ", ".5"; exact, with
    the decimal places it needs (more than the currency's for a fund's cash line)."""
    text = "".join(raw.split())
    if "," in text and "." in text:
        # both: the last one is the decimal mark, the other groups thousands
        mark = "," if text.rfind(",") > text.rfind(".") else "."
        group = "." if mark == "," else ","
        text = text.replace(group, "").replace(mark, ".")
    elif text.count(",") == 1:
        text = text.replace(",", ".")
    if not _AMOUNT.fullmatch(text):
        raise StatementError(f"TRNAMT {_shown(raw)!r} is not an amount", location=location)
    try:
        return exact_minor_units(text, places)
    except StatementError as e:
        reason = str(e.details.get("reason", "is not an amount"))
        raise StatementError(f"TRNAMT {reason}", location=location) from None


def _date(node: Node, element: str, location: str) -> dt.date | None:
    """The date of ``element`` (``DTPOSTED``) as written (its first 8 digits), never moved
    to another zone: ``20231002000000[+10:AEST]`` is 2 October 2023."""
    raw = node.value(element)
    if raw is None:
        return None
    match = _DATE.match(raw)
    if match is None:
        raise StatementError(f"{element} {_shown(raw)!r} is not a date", location=location)
    if not _DATE_REST.fullmatch(raw[8:].strip()):
        raise StatementError(
            f"{element} {_shown(raw)!r} is not an OFX date (YYYYMMDDHHMMSS.XXX[offset:zone])",
            location=location,
        )
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise StatementError(
            f"{element} {_shown(raw)!r} is not a date", location=location
        ) from None
