from django.urls import path

from rapport.dedupe import views

app_name = "dedupe"

urlpatterns = [
    path("duplicates/", views.queue, name="queue"),
    path("duplicates/<int:pk>/", views.compare_pair, name="compare"),
    path("duplicates/<int:pk>/dismiss/", views.dismiss, name="dismiss"),
    path("duplicates/settings/", views.settings_update, name="settings"),
    path("duplicates/run/", views.run_now, name="run"),
    path(
        "customers/<int:pk>/compare/<int:other>/", views.compare_customers, name="compare_customers"
    ),
    path("merges/", views.merge, name="merge"),
    path("merges/<int:pk>/undo/", views.undo, name="undo"),
]
