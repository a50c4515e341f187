from django.urls import include, path

app_name = "analytics"

urlpatterns: list = [
    path("", include("rapport.analytics.rfm_urls")),
    path("", include("rapport.analytics.cohort_urls")),
    path("", include("rapport.analytics.recommend_urls")),
]
