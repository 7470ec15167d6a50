"""``GET /v1/tenant``: the tenant the presented API key belongs to (docs/api.md §2)."""

from __future__ import annotations

import msgspec
from litestar import Controller, get

from ledger.api.auth import TenantDep
from ledger.api.errors import V1_ERROR_STATUSES, error_responses
from ledger.api.positions import LEDGER_POSITION_DOC


class TenantBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    slug: str
    name: str
    base_currency: str


class TenantController(Controller):
    """``/v1/tenant``: the caller's tenant."""

    path = "/tenant"
    tags = ["tenants"]

    @get(
        "/",
        summary="The caller's tenant",
        description="The tenant the presented API key belongs to.",
        responses=error_responses(*V1_ERROR_STATUSES),
        response_headers=[LEDGER_POSITION_DOC],
    )
    async def get_tenant(self, tenant: TenantDep) -> TenantBody:
        return TenantBody(slug=tenant.slug, name=tenant.name, base_currency=tenant.base_currency)
