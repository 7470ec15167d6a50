"""Every named bound of the service, in one place (TIGER_STYLE: put a limit on everything).

A limit that protects the service from a client is enforced at the edge and answers 400/413;
a limit that protects an internal structure is asserted where the structure is built.
Bounds that depend on each other are asserted against each other at the end of this module,
so changing one of them alone fails at import time, not in production.

A module reads a bound as ``limits.X``; it may keep a local alias ``X: Final = limits.X``
where many uses read better, never a value of its own (``tests/unit/test_limits.py`` checks).
"""

import math
from typing import Final

# Integers: PostgreSQL ``bigint`` and the API's integers are signed 64-bit.
BIGINT_MAX: Final = 2**63 - 1

# HTTP edge.
REQUEST_BODY_BYTES_MAX: Final = 1024 * 1024  # any body (Litestar's default): 413 above
# ``POST /v1/records`` and statement imports: ten thousand records with descriptions and
# metadata do not fit in the default 1 MiB.
RECORDS_BULK_BODY_BYTES_MAX: Final = 16 * 1024 * 1024
STATEMENT_IMPORT_BODY_BYTES_MAX: Final = 16 * 1024 * 1024
# JSON nesting of any body: objects and arrays inside each other at most this deep (the
# body itself is depth 1). No body shape needs more than a few levels; this leaves free-form
# ``metadata`` some 28 levels of its own, and keeps every recursive walk of a decoded body
# (the decoder's, the NUL check's, PostgreSQL's jsonb) far from Python's recursion limit.
JSON_NESTING_DEPTH_MAX: Final = 32
# List pages (``limit``): one page is one query and one answer held in memory.
PAGE_SIZE_DEFAULT: Final = 50
PAGE_SIZE_MAX: Final = 500
# A read with ``min_position`` waits at most this long for its projection, then answers 503.
MIN_POSITION_WAIT_SECONDS_MAX: Final = 5.0
# The Retry-After of a 429/503 without its own (a projection behind ``min_position`` too):
# long enough for a projection batch, short enough not to stall a client.
RETRY_AFTER_SECONDS_DEFAULT: Final = 1
# Body decoders built per body type; the types are code constants, so this is never reached.
BODY_DECODER_CACHE_SIZE: Final = 512
# Query-parameter specs kept across app instances (``api.strict``): one per route and method,
# code constants, so never reached either.
QUERY_SPECS_CACHED_MAX: Final = 512
# How much of a refused ``Content-Type`` the 415 answer echoes back in its details.
CONTENT_TYPE_SHOWN_LENGTH_MAX: Final = 200
# Digits of the largest integer a query parameter or path id can be (2^63-1): a longer text is
# refused before ``int()``, which Python itself refuses beyond 4300 digits (a ValueError).
INTEGER_TEXT_DIGITS_MAX: Final = len(str(BIGINT_MAX))
# How much of a refused query parameter (its value, or a reason quoting it) a 400 echoes back.
QUERY_VALUE_SHOWN_LENGTH_MAX: Final = 200
# ``GET /ready``: how long the database may take to answer, and the 503's Retry-After.
READY_TIMEOUT_SECONDS: Final = 2.0
READY_RETRY_AFTER_SECONDS: Final = 5

# Tenants and keys.
TENANT_SLUG_PATTERN: Final = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"  # a DNS label: 1 to 63
TENANT_NAME_LENGTH_MAX: Final = 200
API_KEY_SECRET_BYTES: Final = 32  # 256 bits of randomness per key (the contract asks >= 128).
# A presented key longer than this is refused before it is hashed (a hostile header).
API_KEY_LENGTH_MAX: Final = 512
# A key text longer than this is not one of ours (``domain.tenants.parse_api_key``).
API_KEY_TEXT_LENGTH_MAX: Final = 200

# Group commit: a batch is cut when either bound is reached. The command bound keeps one
# transaction's lock hold short; the event bound keeps one append's arrays a sane size.
GROUP_COMMIT_COMMANDS_MAX: Final = 1000
GROUP_COMMIT_EVENTS_MAX: Final = 10_000
# Authenticated API keys each server process remembers (least recently used evicted first),
# and for how long. A revoked key is refused by every write at once (the group commit
# re-reads the revocation of its batch's keys in the batch's transaction); a read may still
# be answered for up to this long in a process other than the one that revoked the key.
API_KEY_CACHE_SIZE_MAX: Final = 10_000
API_KEY_CACHE_SECONDS: Final = 5.0
# Request rates per API key (``domain.rate_limits``), per server process: the defaults of
# LEDGER_RATE_LIMIT_PER_SECOND and LEDGER_RATE_LIMIT_BURST. A guard against one runaway
# client, not a quota: well above what one process serves (``make bench`` drives one key at
# a few thousand requests/s), so neither the benchmark nor the tests meet it.
RATE_LIMIT_PER_SECOND_DEFAULT: Final = 10_000
RATE_LIMIT_BURST_DEFAULT: Final = 20_000
# The largest values the settings accept (beyond, a typo rather than a limit).
RATE_LIMIT_PER_SECOND_MAX: Final = 1_000_000
RATE_LIMIT_BURST_MAX: Final = 10_000_000
# Keys whose bucket a process keeps (least recently used dropped first; a full bucket is
# dropped anyway): a key dropped early only starts again with a full bucket.
RATE_LIMIT_KEYS_MAX: Final = 100_000
# Appends wait for the event table lock at most this long before failing the batch.
APPEND_LOCK_TIMEOUT_SECONDS: Final = 5
# A batch that loses its connection (or meets another database fault: ``is_unavailable``)
# before its COMMIT was sent wrote nothing; it is written again on a fresh connection this
# many more times, then its commands answer 503. Bounded: a database that is down must not
# hold the writer (and every queued command) for long; each retry first waits
# attempt x GROUP_COMMIT_RETRY_BACKOFF_SECONDS, time for a restarting server to come back.
GROUP_COMMIT_RETRIES_MAX: Final = 3
GROUP_COMMIT_RETRY_BACKOFF_SECONDS: Final = 0.05

# Storage.
# An event's encoded state (``MsgspecMapper``); a larger one is refused (413) unwritten.
STATE_BYTES_MAX: Final = 8 * 1024 * 1024
READ_EVENTS_PAGE_MAX: Final = 10_000  # events one ``EventStore.read_after`` returns at most
# Log positions (``notification_id``) are bigints.
POSITION_MAX: Final = BIGINT_MAX
# Connections per server process's pool: a few kept open, no more than PostgreSQL can spare.
POOL_SIZE_MIN: Final = 2
POOL_SIZE_MAX: Final = 20
# Opening a database connection (the pool's and the projections' LISTEN connection).
CONNECT_TIMEOUT_SECONDS: Final = 10.0
# Start-up (``serve``, ``migrate`` and every CLI command) waits this long for an unreachable
# database before giving up with one line (LEDGER_DATABASE_CONNECT_TIMEOUT): long enough to
# ride out a database that boots with the host or restarts, short enough that a wrong URL
# fails while someone is still watching. The upper bound keeps a typo from meaning "forever".
DATABASE_CONNECT_TIMEOUT_DEFAULT_SECONDS: Final = 30.0
DATABASE_CONNECT_TIMEOUT_MAX_SECONDS: Final = 3600.0
# Back-off between those attempts: doubling from the first pause up to the longest.
DATABASE_CONNECT_RETRY_FIRST_SECONDS: Final = 0.5
DATABASE_CONNECT_RETRY_MAX_SECONDS: Final = 5.0
# The embedded PostgreSQL gets this long to stop (``pg_ctl stop -m fast``) at exit.
EMBEDDED_STOP_SECONDS: Final = 30
# One statement of a pooled connection; longer means something is stuck.
COMMAND_TIMEOUT_SECONDS: Final = 60
# The server cancels a pooled connection's statement after this long (``statement_timeout``,
# ``LEDGER_STATEMENT_TIMEOUT_SECONDS``): the request answers 503, its transaction rolls
# back. Below COMMAND_TIMEOUT_SECONDS, so the server's clean cancel comes before the
# client gives up; a batch takes ~15 ms, so 30 s is only ever reached by a stuck lock.
STATEMENT_TIMEOUT_SECONDS_DEFAULT: Final = 30.0
STATEMENT_TIMEOUT_SECONDS_MAX: Final = float(COMMAND_TIMEOUT_SECONDS)
# Shutdown waits this long for the pool's connections to be returned.
POOL_CLOSE_SECONDS: Final = 10.0

# Projections (the asynchronous runner, its tracking, a rebuild, a replay).
PROJECTION_BATCH_EVENTS_DEFAULT: Final = 1_000  # events applied per runner transaction
PROJECTION_BATCH_EVENTS_MAX: Final = 100_000  # the most ``--batch-events`` may ask for
# Without a notification, the runner and the tracker look for new events this often.
PROJECTION_POLL_SECONDS: Final = 1.0
# After a failed event the runner waits FIRST, then twice as long after each further failure,
# up to MAX: a transient fault is retried within a fraction of a second, a poison event about
# every 10 s (never a busy loop), and a fixed one is folded within MAX of the fix.
PROJECTION_RETRY_SECONDS_FIRST: Final = 0.1
PROJECTION_RETRY_SECONDS_MAX: Final = 10.0  # the longest back-off after a failed batch
# The error message a failing projection records (ledger_projection_failures, `projections
# status`): an exception's first line, cut here; the traceback goes to the log only.
PROJECTION_FAILURE_MESSAGE_CHARS_MAX: Final = 300
TRACKING_RECONNECT_SECONDS_MAX: Final = 5.0  # the longest back-off of the LISTEN connection
# ``Ledger-Position`` answers a tenant its own last position (``projections.tracking``):
# tenants whose last position a process keeps (least recently used evicted; a forgotten one
# costs one index probe at its next read), ...
TENANT_POSITIONS_MAX: Final = 100_000
# ... runs of positions seen out of order it keeps until they join up (beyond, the
# listener's read of the range covers them), ...
TENANT_POSITIONS_RUNS_MAX: Final = 1_024
# ... and the most positions the listener reads the tenants of at once: after a longer gap
# (start-up, a lost connection) it forgets every tenant's position instead of reading it.
TENANT_POSITIONS_CATCH_UP_EVENTS_MAX: Final = 100_000
REBUILD_BATCH_EVENTS_DEFAULT: Final = 20_000  # a rebuild copies in larger batches than the runner
# A rebuild swaps its tables in once it is fewer than this many events behind the log,
REBUILD_SWAP_LAG_EVENTS: Final = 500
# trying to lock the live tables for at most this long, pausing up to this long (at random)
# between tries.
REBUILD_SWAP_PATIENCE_SECONDS: Final = 120.0
REBUILD_SWAP_PAUSE_SECONDS_MAX: Final = 0.05
REPLAY_BATCH_EVENTS: Final = 2_000  # events read per page when replaying the log in memory

# Audit (``ledger audit``): pages of the log, and how much a finding report shows.
AUDIT_PAGE_EVENTS: Final = 5_000
AUDIT_STOCK_PAGES_AHEAD: Final = 2  # pages the stock decoder worker may run ahead
AUDIT_FINDINGS_PER_CHECK_MAX: Final = 20
AUDIT_AGGREGATE_CACHE_MAX: Final = 20_000  # aggregates of recent events the stock check keeps
AUDIT_BOOKS_SHOWN_MAX: Final = 5  # differing rows shown per books check

# ``ledger serve --workers``: more processes than this only multiplies connections.
SERVE_WORKERS_MAX: Final = 64

# Money: amounts are signed 64-bit integers in minor units.
AMOUNT_MINOR_MAX: Final = BIGINT_MAX
BALANCE_MINOR_MIN: Final = -(2**63)  # signed fields such as ``min_balance`` are int64
# Every total and balance the service answers or keeps (a journal's totals per currency and
# in the base/reporting currency, a ledger's posted/pending/available balance, own and with
# its children, a match's sums, a reconciliation summary, the trial balance) is an int64 too:
# a client that holds amounts as int64 must be able to hold every figure it reads. A write
# that would take one beyond is refused (422 AMOUNT_OVERFLOW) before anything is written; a
# read that would answer one beyond (data older than the guard) answers the same 422.
TOTAL_MINOR_MAX: Final = BIGINT_MAX
TOTAL_MINOR_MIN: Final = -BIGINT_MAX  # a difference of two totals in [0, TOTAL_MINOR_MAX]
# Currencies: a code is 3 to 10 capitals and digits, a letter first (ISO 4217's are 3 letters);
# a minor unit has at most this many digits after the decimal point.
CURRENCY_CODE_PATTERN: Final = r"^[A-Z][A-Z0-9]{2,9}$"
CURRENCY_PRECISION_MAX: Final = 18
# A record's own precision (``decimal_places``): its currency's, or finer (a fund's cash line).
RECORD_DECIMAL_PLACES_MAX: Final = 18
# FX rates on the wire: plain decimal text, bounded in length, precision and magnitude.
RATE_TEXT_LENGTH_MAX: Final = 80
RATE_SIGNIFICANT_DIGITS_MAX: Final = 40
RATE_ADJUSTED_EXPONENT_MAX: Final = 40
# An inverse rate (1 / r) is not finite in general: it is fixed to this many significant
# digits, and that fixed value is both the rate shown in the journal and the one used.
INVERSE_RATE_DIGITS: Final = 20
# Conversions compute exactly with this many significant digits (asserted enough below).
MONEY_EXACT_DIGITS: Final = 100
# Setting a rate retries a concurrent version conflict this many times before answering 409.
SET_RATE_ATTEMPTS: Final = 3

# Journals (``POST /v1/journals``).
JOURNAL_ENTRIES_MIN: Final = 2  # double entry: a debit and a credit at least
JOURNAL_ENTRIES_MAX: Final = 500
BULK_JOURNALS_MAX: Final = 1000  # journals per ``POST /v1/journals/bulk``
JOURNAL_TEXT_LENGTH_MAX: Final = 1000  # descriptions
JOURNAL_KEY_LENGTH_MAX: Final = 255  # references, external ids, idempotency keys, ledger codes
# Amendments a read follows from a journal to its current version (``amended_by`` hops, one
# query each; ``/v1/manual-journals/{id}``): an id further back than this is not followed.
AMENDMENT_CHAIN_MAX: Final = 100
# A journal's metadata after an annotation merged keys into it (``PATCH /v1/journals/{id}``),
# JSON-encoded: no more than one POST body could have carried, however many PATCHes it took.
JOURNAL_METADATA_BYTES_MAX: Final = REQUEST_BODY_BYTES_MAX

# Records (``POST /v1/records``, statement imports).
RECORDS_PER_COMMAND_MAX: Final = 10_000
RECORD_EXTERNAL_ID_LENGTH_MAX: Final = 255
RECORD_DESCRIPTION_LENGTH_MAX: Final = 1000
RECORD_ID_MAX: Final = BIGINT_MAX  # ``records.record_id`` is a bigint
STREAM_KEY_LENGTH_MAX: Final = 255  # a data stream's key (``bank:…``, ``ledger:<code>``)
STATEMENT_ACCOUNT_LENGTH_MAX: Final = 64  # the account a statement import is told to expect
# How much of an unreadable amount a statement import's error quotes (a bank's field can be
# long; the message names it, it does not echo it).
STATEMENT_AMOUNT_SHOWN_LENGTH_MAX: Final = 40
# A bulk write of this many rows or more refreshes the reconciliation tables' planner
# statistics (``commands.records.refresh_statistics``); fewer cannot mislead the planner.
RECONCILIATION_STATISTICS_ROWS_MIN: Final = 1_000

# Reconciliation.
MATCH_ITEMS_MAX: Final = 1000  # items of one manual match
MATCH_NOTE_LENGTH_MAX: Final = 1000
DATE_WINDOW_DAYS_MAX: Final = 31  # a run's date tolerance
# A run's group matching (many to one): candidates scanned, kept, and joined per group.
GROUP_SCAN_MAX: Final = 200
GROUP_CANDIDATES_MAX: Final = 12
GROUP_SIZE_MAX: Final = 4
RUN_SLICE_MATCHES: Final = 5_000  # matches a run decides per transaction

# Ledgers (accounts).
LEDGER_TREE_DEPTH_MAX: Final = 16  # a root ledger has depth 1; ``ledgers.depth`` checks it too
LEDGER_CODE_LENGTH_MAX: Final = 128  # a chart-of-accounts code, with room for a path
LEDGER_NAME_LENGTH_MAX: Final = 200  # like a tenant's name
LEDGER_METADATA_BYTES_MAX: Final = 16 * 1024  # the metadata object, JSON-encoded
LEDGER_NUM_ID_MAX: Final = BIGINT_MAX  # ``ledgers.num_id`` is a bigint


# Related bounds. Each assert names the relation it protects.
assert BALANCE_MINOR_MIN == -AMOUNT_MINOR_MAX - 1, "amounts and balances are both int64"
assert AMOUNT_MINOR_MAX <= TOTAL_MINOR_MAX, "a total of one amount is in range"
assert BALANCE_MINOR_MIN <= TOTAL_MINOR_MIN, "every total is an int64"
assert 0 < PAGE_SIZE_DEFAULT <= PAGE_SIZE_MAX, "the default page is a valid page size"
assert PAGE_SIZE_MAX <= READ_EVENTS_PAGE_MAX, "an API page of events is one store read"
assert REPLAY_BATCH_EVENTS <= READ_EVENTS_PAGE_MAX, "a replay batch is one store read"
assert REQUEST_BODY_BYTES_MAX <= RECORDS_BULK_BODY_BYTES_MAX, "bulk routes raise the body bound"
assert REQUEST_BODY_BYTES_MAX <= STATEMENT_IMPORT_BODY_BYTES_MAX, "imports raise the body bound"
assert (
    RECORDS_BULK_BODY_BYTES_MAX // RECORDS_PER_COMMAND_MAX
    >= RECORD_EXTERNAL_ID_LENGTH_MAX + RECORD_DESCRIPTION_LENGTH_MAX
), "a bulk body can carry the most records, each with full-length external id and description"
# Every event is built from one command: either from one body of at most
# REQUEST_BODY_BYTES_MAX (a journal, a match, a ledger), whose strings never grow when
# re-encoded, plus derived fields bounded per entry or item; or from one record of a bulk
# body, far smaller. So a client never reaches STATE_BYTES_MAX; the mapper still refuses it.
assert 4 * REQUEST_BODY_BYTES_MAX <= STATE_BYTES_MAX, "one body's event stays under the bound"
assert LEDGER_METADATA_BYTES_MAX < REQUEST_BODY_BYTES_MAX, "a ledger's metadata fits a body"
# A JournalAnnotated carries the whole metadata plus a description and a reference.
assert 2 * JOURNAL_METADATA_BYTES_MAX <= STATE_BYTES_MAX, "an annotation's event fits the store"
assert 0 < GROUP_COMMIT_COMMANDS_MAX <= GROUP_COMMIT_EVENTS_MAX, "a command has >= 1 event"
assert API_KEY_CACHE_SIZE_MAX > 0, "the API key cache holds something"
assert AUDIT_AGGREGATE_CACHE_MAX > 0, "the audit's aggregate cache holds something"
assert BODY_DECODER_CACHE_SIZE > 0, "the body decoder cache holds something"
assert 0 < POOL_SIZE_MIN <= POOL_SIZE_MAX, "the pool's minimum is a valid size"
assert 0 < STATEMENT_TIMEOUT_SECONDS_DEFAULT <= STATEMENT_TIMEOUT_SECONDS_MAX, "timeout default"
assert GROUP_COMMIT_RETRIES_MAX >= 0, "a batch is written at least once"
assert 0 < PROJECTION_BATCH_EVENTS_DEFAULT <= PROJECTION_BATCH_EVENTS_MAX, "runner default"
assert 0 < REBUILD_BATCH_EVENTS_DEFAULT <= PROJECTION_BATCH_EVENTS_MAX, "rebuild default"
assert 0 < PROJECTION_RETRY_SECONDS_FIRST <= PROJECTION_RETRY_SECONDS_MAX, "runner back-off"
assert 0 < AUDIT_PAGE_EVENTS <= READ_EVENTS_PAGE_MAX, "an audit page is one store read"
# ``format_api_key``: "ldg_" + the key id's 32 hex digits + "_" + the URL-safe secret.
_ISSUED_API_KEY_LENGTH: Final = len("ldg_") + 32 + 1 + math.ceil(API_KEY_SECRET_BYTES * 4 / 3)
assert _ISSUED_API_KEY_LENGTH <= API_KEY_TEXT_LENGTH_MAX <= API_KEY_LENGTH_MAX, (
    "every issued key is parsed, and the edge lets every parsable key through"
)
assert CURRENCY_PRECISION_MAX <= RECORD_DECIMAL_PLACES_MAX, "a record is as fine as its currency"
assert INVERSE_RATE_DIGITS <= RATE_SIGNIFICANT_DIGITS_MAX, "an inverse rate is a valid rate"
assert RATE_SIGNIFICANT_DIGITS_MAX < RATE_TEXT_LENGTH_MAX, "the most precise rate fits its text"
assert (
    len(str(AMOUNT_MINOR_MAX)) + RATE_SIGNIFICANT_DIGITS_MAX + 2 * CURRENCY_PRECISION_MAX
    <= MONEY_EXACT_DIGITS
), "an amount times a rate, rescaled between precisions, is computed exactly"
assert 2 <= JOURNAL_ENTRIES_MIN <= JOURNAL_ENTRIES_MAX, "a journal has a debit and a credit"
assert LEDGER_CODE_LENGTH_MAX <= JOURNAL_KEY_LENGTH_MAX, "an entry can name any ledger by code"
assert len("ledger:") + LEDGER_CODE_LENGTH_MAX <= STREAM_KEY_LENGTH_MAX, (
    "every ledger has a data stream key"
)
assert 2 <= GROUP_SIZE_MAX <= GROUP_CANDIDATES_MAX <= GROUP_SCAN_MAX, "group matching funnel"
assert GROUP_SIZE_MAX + 1 <= MATCH_ITEMS_MAX, "a run's group match is a valid manual match"
assert 8 <= JSON_NESTING_DEPTH_MAX <= 100, "bodies nest a few levels; Python recursion is 1000"
assert LEDGER_TREE_DEPTH_MAX >= 1, "a root ledger has depth 1"
