from django.urls import path

from rapport.analytics import clv_views

urlpatterns = [
    path("equity/", clv_views.equity, name="clv_equity"),
    path("equity/fit/", clv_views.fit_now, name="clv_fit_now"),
    path("equity/settings/", clv_views.settings_update, name="clv_settings"),
]
