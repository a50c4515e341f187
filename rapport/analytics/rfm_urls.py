from django.urls import path

from rapport.analytics import rfm_views

urlpatterns = [
    path("rfm/", rfm_views.rfm_overview, name="rfm"),
    path("rfm/customers/", rfm_views.rfm_customers, name="rfm_customers"),
    path("rfm/recompute/", rfm_views.rfm_recompute, name="rfm_recompute"),
]
