"""The e-CRM pages under /marketing/: segments, web events, tracker settings."""

from django.urls import path

from rapport.marketing import views_ecrm as views

urlpatterns = [
    path("", views.segment_list, name="home"),
    path("segments/", views.segment_list, name="segment_list"),
    path("segments/new/", views.segment_create, name="segment_create"),
    path("segments/count/", views.segment_count, name="segment_count"),
    path("segments/<int:pk>/", views.segment_detail, name="segment_detail"),
    path("segments/<int:pk>/edit/", views.segment_edit, name="segment_edit"),
    path("segments/<int:pk>/rebuild/", views.segment_rebuild, name="segment_rebuild"),
    path("segments/<int:pk>/delete/", views.segment_delete, name="segment_delete"),
    path("segments/<int:pk>/export/", views.segment_export, name="segment_export"),
    path("events/", views.event_list, name="event_list"),
    path("tracker/", views.tracker_settings, name="tracker"),
    path("tracker/<int:pk>/toggle/", views.tracker_toggle, name="tracker_toggle"),
]
