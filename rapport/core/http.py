"""The request type views receive after authentication and the htmx middleware."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class AuthedRequest(HttpRequest):
    # The identity app's User; core does not import identity, so it is typed loosely here
    # and precisely in identity.http.
    user: Any
    htmx: HtmxDetails
