from django.urls import path

from rapport.core import views

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("search/suggest/", views.search_suggest, name="search_suggest"),
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job_detail"),
    path("jobs/<uuid:job_id>/progress/", views.job_progress, name="job_progress"),
    path("jobs/<uuid:job_id>/download/", views.job_download, name="job_download"),
    path("admin-tools/tasks/", views.tasks, name="tasks"),
    path("admin-tools/audit/", views.audit_log, name="audit_log"),
    path("history/<str:object_type>/<str:object_id>/", views.object_history, name="history"),
    path("healthz", views.healthz, name="healthz"),
]
