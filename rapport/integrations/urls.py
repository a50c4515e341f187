from django.urls import path

from rapport.integrations import views

app_name = "integrations"

urlpatterns = [
    path("", views.endpoint_list, name="list"),
    path("webhooks/new/", views.endpoint_create, name="create"),
    path("webhooks/<int:endpoint_id>/", views.endpoint_detail, name="detail"),
    path("webhooks/<int:endpoint_id>/toggle/", views.endpoint_toggle, name="toggle"),
    path("webhooks/<int:endpoint_id>/rotate/", views.endpoint_rotate, name="rotate"),
    path("webhooks/<int:endpoint_id>/delete/", views.endpoint_delete, name="delete"),
    path(
        "webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/",
        views.delivery_detail,
        name="delivery",
    ),
    path(
        "webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/replay/",
        views.delivery_replay,
        name="replay",
    ),
]
