from django.urls import include, path

app_name = "analytics"

urlpatterns: list = [
    path("churn/", include("rapport.analytics.churn_urls")),
    path("", include("rapport.analytics.urls_clv")),
    path("", include("rapport.analytics.rfm_urls")),
    path("", include("rapport.analytics.cohort_urls")),
    path("", include("rapport.analytics.recommend_urls")),
]
