from django.urls import include, path

app_name = "sales"

urlpatterns: list = [
    path("", include("rapport.sales.urls_core")),
]
