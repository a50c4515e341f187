"""The REST API at /api/v1/: one NinjaAPI, each app contributing a router."""

from __future__ import annotations

from rapport.activities.api import router as activities_router
from rapport.commerce.api import router as commerce_router
from rapport.core.api import build_api
from rapport.customers.api import router as customers_router
from rapport.dataquality.api import router as dataquality_router
from rapport.dedupe.api import router as dedupe_router
from rapport.identity.api import router as identity_router
from rapport.identity.auth import api_auth
from rapport.integrations.api import router as integrations_router
from rapport.marketing.api_ecrm import router as marketing_ecrm_router
from rapport.sales.api import router as sales_router
from rapport.service.api import router as service_router

api = build_api(auth=api_auth())
api.add_router("/", identity_router)
api.add_router("/", customers_router)
api.add_router("/", commerce_router)
api.add_router("/", integrations_router)
api.add_router("/", dedupe_router)
api.add_router("/", dataquality_router)
api.add_router("/", activities_router)
api.add_router("/", sales_router)
api.add_router("/", service_router)
api.add_router("/", marketing_ecrm_router)
