from django.urls import path

from rapport.customers import views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("bulk/", views.bulk_action, name="bulk"),
    path("views/", views.saved_view_create, name="saved_view_create"),
    path("columns/", views.list_columns, name="list_columns"),
    path("views/<int:pk>/delete/", views.saved_view_delete, name="saved_view_delete"),
    path("new/<str:kind>/", views.customer_create, name="create"),
    path("custom-fields/", views.custom_fields, name="custom_fields"),
    path("custom-fields/<int:pk>/toggle/", views.custom_field_toggle, name="custom_field_toggle"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/edit/", views.customer_edit, name="edit"),
    path("<int:pk>/field/<str:name>/", views.inline_edit, name="inline_edit"),
    path("<int:pk>/timeline/", views.customer_timeline, name="timeline"),
    path("<int:pk>/notes/", views.note_add, name="note_add"),
    path("<int:pk>/consent/", views.consent_add, name="consent_add"),
    path("<int:pk>/relationships/", views.relationship_add, name="relationship_add"),
    path(
        "<int:pk>/relationships/<int:rel_id>/delete/",
        views.relationship_remove,
        name="relationship_remove",
    ),
    path("<int:pk>/affiliations/", views.affiliation_add, name="affiliation_add"),
    path(
        "<int:pk>/affiliations/<int:aff_id>/delete/",
        views.affiliation_remove,
        name="affiliation_remove",
    ),
    path("<int:pk>/gdpr/export/", views.gdpr_export, name="gdpr_export"),
    path("<int:pk>/gdpr/erase/", views.gdpr_erase, name="gdpr_erase"),
]
