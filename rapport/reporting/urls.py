from django.urls import path

from rapport.reporting import views

app_name = "reporting"

urlpatterns = [
    path("", views.dashboard, name="home"),
    path("dashboards/<str:key>/", views.dashboard, name="dashboard"),
    path("dashboards-seed/", views.dashboards_seed, name="dashboards_seed"),
    path("saved/", views.report_list, name="list"),
    path("new/", views.builder, name="new"),
    path("records/", views.records, name="records"),
    path("export/", views.export, name="export"),
    path("<int:pk>/", views.report_detail, name="report"),
    path("<int:pk>/edit/", views.builder, name="edit"),
    path("<int:pk>/share/", views.report_share, name="share"),
    path("<int:pk>/delete/", views.report_delete, name="delete"),
]
