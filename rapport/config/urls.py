from django.contrib import admin
from django.urls import include, path

from rapport.config.api import api

urlpatterns = [
    path("", include("rapport.core.urls")),
    path("", include("rapport.identity.urls")),
    path("customers/", include("rapport.customers.urls")),
    path("commerce/", include("rapport.commerce.urls")),
    path("integrations/", include("rapport.integrations.urls")),
    path("", include("rapport.dataquality.urls")),
    path("", include("rapport.dedupe.urls")),
    path("activities/", include("rapport.activities.urls")),
    path("sales/", include("rapport.sales.urls")),
    path("analytics/", include("rapport.analytics.urls")),
    path("reports/", include("rapport.reporting.urls")),
    path("service/", include("rapport.service.urls")),
    path("marketing/", include("rapport.marketing.urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]
