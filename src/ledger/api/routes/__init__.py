"""The HTTP API, one ``litestar.Controller`` per context (a module each, here).

``SYSTEM_ROUTES`` are served without authentication at the root; ``V1_ROUTES`` are mounted on
the guarded ``/v1`` router by ``ledger.api.app.create_app``. A new context adds its
controller to one of these lists.

Routing matches literal path segments before parameters whatever the order here, so
``/v1/journals/bulk`` is never read as the journal ``bulk``.
"""

from __future__ import annotations

from typing import Final

from litestar.types import ControllerRouterHandler

from ledger.api.compat.journal_entries import EXTERNAL_ROUTES as SEED_002_ROUTES
from ledger.api.compat.ledgers_journals import post_ledgers_journal
from ledger.api.compat.manual_journals import ManualJournalsController
from ledger.api.compat.transactions import TRANSACTION_ROUTES
from ledger.api.routes.balances import BalancesController
from ledger.api.routes.currencies import CurrenciesController
from ledger.api.routes.journals import JournalsController
from ledger.api.routes.ledgers import LedgersController
from ledger.api.routes.reconciliation import ReconciliationController
from ledger.api.routes.records import RecordsController
from ledger.api.routes.reports import ReportsController
from ledger.api.routes.system import SystemController
from ledger.api.routes.tenant import TenantController

SYSTEM_ROUTES: Final[list[ControllerRouterHandler]] = [SystemController]
V1_ROUTES: Final[list[ControllerRouterHandler]] = [
    TenantController,
    CurrenciesController,
    LedgersController,
    JournalsController,
    BalancesController,
    ReportsController,
    RecordsController,
    ReconciliationController,
    # Seed-compatible endpoints: translations onto the native commands (ledger.api.compat).
    post_ledgers_journal,
    *TRANSACTION_ROUTES,
    ManualJournalsController,
]
# Authenticated like /v1, mounted at /external/v1 (seed 002's path) by create_app.
EXTERNAL_V1_ROUTES: Final[list[ControllerRouterHandler]] = [*SEED_002_ROUTES]
