from django.urls import include, path

app_name = "marketing"

urlpatterns: list = [
    path("", include("rapport.marketing.urls_ecrm")),
]
