from django.urls import path

from rapport.dataquality import views

app_name = "dataquality"

urlpatterns = [
    path("imports/", views.import_list, name="import_list"),
    path("imports/new/", views.import_new, name="import_new"),
    path("imports/<uuid:run_id>/", views.import_detail, name="import_detail"),
    path("imports/<uuid:run_id>/mapping/", views.import_mapping, name="import_mapping"),
    path("imports/<uuid:run_id>/run/", views.import_run, name="import_run"),
    path("exports/new/", views.export_new, name="export_new"),
    path("data-quality/", views.quality_report, name="quality_report"),
    path("data-quality/refresh/", views.quality_refresh, name="quality_refresh"),
    path("data-quality/rescore/", views.quality_rescore, name="quality_rescore"),
    path("data-quality/fix/<slug:fix>/", views.quality_fix, name="quality_fix"),
]
