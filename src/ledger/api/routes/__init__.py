"""Route handlers, grouped by resource.

``SYSTEM_ROUTES`` are served without authentication at the root; ``V1_ROUTES`` are mounted on
the guarded ``/v1`` router by ``ledger.api.app.create_app``. A new resource module adds its
handlers to one of these lists.
"""

from __future__ import annotations

from typing import Final

from litestar.types import ControllerRouterHandler

from ledger.api.compat.transactions import TRANSACTION_ROUTES
from ledger.api.currencies import CURRENCY_ROUTES
from ledger.api.ledgers import LedgersController
from ledger.api.routes.balances import BALANCE_ROUTES
from ledger.api.routes.journals import JOURNAL_ROUTES
from ledger.api.routes.reconciliation import RECONCILIATION_ROUTES
from ledger.api.routes.records import RECORD_ROUTES
from ledger.api.routes.reports import REPORT_ROUTES
from ledger.api.routes.system import health, ready
from ledger.api.routes.tenant import get_tenant

SYSTEM_ROUTES: Final[list[ControllerRouterHandler]] = [health, ready]
V1_ROUTES: Final[list[ControllerRouterHandler]] = [
    get_tenant,
    *CURRENCY_ROUTES,
    LedgersController,
    *JOURNAL_ROUTES,
    *BALANCE_ROUTES,
    *REPORT_ROUTES,
    *RECORD_ROUTES,
    *RECONCILIATION_ROUTES,
    *TRANSACTION_ROUTES,
]
