"""Service pages: inbox, ticket, settings, mailbox health, inbound webhook."""

from django.urls import path

from rapport.service import views

urlpatterns = [
    path("", views.inbox, name="inbox"),
]
