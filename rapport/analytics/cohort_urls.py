from django.urls import path

from rapport.analytics import cohort_views

urlpatterns = [
    path("cohorts/", cohort_views.cohort_overview, name="cohorts"),
    path("cohorts/customers/", cohort_views.cohort_customers, name="cohort_customers"),
]
