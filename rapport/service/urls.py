"""Service pages."""

from django.urls import include, path

app_name = "service"

urlpatterns: list = [
    path("", include("rapport.service.urls_inbox")),
]
