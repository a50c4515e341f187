"""Per-request context (request id, client address) for the audit log, and the browser-only
middleware that API requests carrying a Bearer key skip.

A request to `/api/` with `Authorization: Bearer …` is authenticated by that key alone
(`rapport.identity.auth.ApiKeyAuth`): no session is loaded, so there is no ambient
credential to protect and no flash messages or one-time-password state to maintain. The
subclasses below skip that work for such requests only; every other request (the UI, and
API calls authenticated by the session cookie) runs the original middleware unchanged.
They subclass the originals so Django's and the packages' system checks still find them.
Django's CsrfViewMiddleware stays as it is for every request (without a CSRF cookie it
costs next to nothing, and ninja checks CSRF whenever it authenticates by the session).
See docs/decisions/0405-api-bearer-fast-path.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django_otp.middleware import OTPMiddleware

from rapport.core import context

API_PREFIX = "/api/"


def is_bearer_api_request(request: HttpRequest) -> bool:
    """Whether this is an API request that authenticates with `Authorization: Bearer`."""
    cached: bool | None = getattr(request, "_rapport_bearer_api", None)
    if cached is None:
        authorization = request.META.get("HTTP_AUTHORIZATION", "")
        # The same test as ninja's HttpBearer: the scheme, case-insensitive, then a space.
        cached = request.path_info.startswith(API_PREFIX) and (
            authorization[:7].lower() == "bearer "
        )
        request._rapport_bearer_api = cached  # type: ignore[attr-defined]
    return cached


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex
        token = context.activate(
            context.RequestContext(
                request_id=request_id, ip_address=request.META.get("REMOTE_ADDR")
            )
        )
        try:
            response = self.get_response(request)
        finally:
            context.deactivate(token)
        response["X-Request-Id"] = request_id
        return response


class BrowserSessionMiddleware(SessionMiddleware):
    """Sessions, except for Bearer API requests (which never read or write one)."""

    def __call__(self, request: HttpRequest) -> Any:
        if is_bearer_api_request(request):
            return self.get_response(request)
        return super().__call__(request)


class PageLocaleMiddleware(LocaleMiddleware):
    """Date and number formats from the browser's Accept-Language, for pages only. The API
    answers the same whatever language the client sends (ISO dates, one language of
    messages), so it keeps LANGUAGE_CODE; activated explicitly, because a server thread
    keeps the language of the request it served before."""

    def __call__(self, request: HttpRequest) -> Any:
        if request.path_info.startswith(API_PREFIX):
            translation.activate(settings.LANGUAGE_CODE)
            return self.get_response(request)
        return super().__call__(request)


class BrowserAuthenticationMiddleware(AuthenticationMiddleware):
    """The session's user, except for Bearer API requests, which start anonymous until
    their key authenticates them (so an invalid key never falls back to a session)."""

    def __call__(self, request: HttpRequest) -> Any:
        if is_bearer_api_request(request):
            anonymous = AnonymousUser()
            request.user = anonymous

            async def auser() -> AnonymousUser:
                return anonymous

            request.auser = auser
            return self.get_response(request)
        return super().__call__(request)


class BrowserOTPMiddleware(OTPMiddleware):
    """One-time-password state of the session, except for Bearer API requests."""

    def __call__(self, request: HttpRequest) -> Any:
        if is_bearer_api_request(request):
            return self.get_response(request)
        return super().__call__(request)


class BrowserMessageMiddleware(MessageMiddleware):
    """Flash messages (stored in the session), except for Bearer API requests."""

    def __call__(self, request: HttpRequest) -> Any:
        if is_bearer_api_request(request):
            return self.get_response(request)
        return super().__call__(request)
