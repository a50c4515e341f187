from django.urls import include, path

app_name = "analytics"

urlpatterns: list = [
    path("churn/", include("rapport.analytics.churn_urls")),
    path("", include("rapport.analytics.urls_clv")),
]
