"""Every named bound of the service, in one place (TIGER_STYLE: put a limit on everything).

A limit that protects the service from a client is enforced at the edge and answers 400/413;
a limit that protects an internal structure is asserted where the structure is built.
"""

from typing import Final

# HTTP edge.
REQUEST_BODY_BYTES_MAX: Final = 1024 * 1024
PAGE_SIZE_DEFAULT: Final = 50
PAGE_SIZE_MAX: Final = 500
MIN_POSITION_WAIT_SECONDS_MAX: Final = 5.0

# Tenants and keys.
TENANT_SLUG_PATTERN: Final = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
TENANT_NAME_LENGTH_MAX: Final = 200
API_KEY_SECRET_BYTES: Final = 32  # 256 bits of randomness per key (the contract asks >= 128).

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
# Appends wait for the event table lock at most this long before failing the batch.
APPEND_LOCK_TIMEOUT_SECONDS: Final = 5

# Storage.
STATE_BYTES_MAX: Final = 8 * 1024 * 1024
READ_EVENTS_PAGE_MAX: Final = 10_000

# Money: amounts are signed 64-bit integers in minor units.
AMOUNT_MINOR_MAX: Final = 2**63 - 1
# A record's own precision (``decimal_places``): its currency's, or finer (a fund's cash line).
RECORD_DECIMAL_PLACES_MAX: Final = 18
# Records (``POST /v1/records``, statement imports).
RECORD_EXTERNAL_ID_LENGTH_MAX: Final = 255
RECORD_DESCRIPTION_LENGTH_MAX: Final = 1000

# Ledgers (accounts).
LEDGER_TREE_DEPTH_MAX: Final = 16  # a root ledger has depth 1; ``ledgers.depth`` checks it too
LEDGER_CODE_LENGTH_MAX: Final = 128
LEDGER_NAME_LENGTH_MAX: Final = 200
LEDGER_METADATA_BYTES_MAX: Final = 16 * 1024  # the metadata object, JSON-encoded
BALANCE_MINOR_MIN: Final = -(2**63)  # signed fields such as ``min_balance`` are int64
