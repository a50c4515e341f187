"""The request type of views behind login: its user is a Rapport user."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from rapport.identity.models import User


class UserRequest(HttpRequest):
    user: User
    htmx: HtmxDetails
