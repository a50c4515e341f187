"""Service pages: inbox, ticket, attachments, reports, settings, mailbox health, webhook."""

from django.urls import path

from rapport.service import views

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("tickets/<int:pk>/", views.ticket_detail, name="ticket_detail"),
    path("tickets/<int:pk>/reply/", views.ticket_reply, name="ticket_reply"),
    path("tickets/<int:pk>/note/", views.ticket_note, name="ticket_note"),
    path("tickets/<int:pk>/properties/", views.ticket_properties, name="ticket_properties"),
    path("tickets/<int:pk>/merge/", views.ticket_merge, name="ticket_merge"),
    path("attachments/<int:pk>/", views.attachment, name="attachment"),
    path("breaches/", views.breach_report, name="breach_report"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/queues/", views.queue_add, name="queue_add"),
    path("settings/statuses/", views.status_add, name="status_add"),
    path("settings/calendars/new/", views.calendar_form, name="calendar_create"),
    path("settings/calendars/<int:pk>/", views.calendar_form, name="calendar_edit"),
    path("settings/policies/new/", views.policy_form, name="policy_create"),
    path("settings/policies/<int:pk>/", views.policy_form, name="policy_edit"),
    path("mailboxes/", views.mailboxes, name="mailboxes"),
    path("mailboxes/new/", views.mailbox_form, name="mailbox_create"),
    path("mailboxes/<int:pk>/", views.mailbox_form, name="mailbox_edit"),
    path("signature/", views.signature, name="signature"),
    path("inbound/<int:pk>/", views.inbound, name="inbound"),
]
