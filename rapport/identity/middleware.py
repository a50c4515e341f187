"""Two-factor enforcement: a user whose role requires 2FA reaches nothing but the login,
2FA set-up and log-out pages until the session is verified with a one-time password.
And the user's own locale for dates and numbers, over the browser's."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django_otp.plugins.otp_totp.models import TOTPDevice

EXEMPT_PREFIXES = ("/static/", "/healthz", "/login", "/logout", "/password-reset", "/two-factor/")


class RequireTwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not request.path.startswith(EXEMPT_PREFIXES)
            and user.requires_two_factor
            and not user.is_verified()  # type: ignore[attr-defined]  # set by OTPMiddleware
        ):
            if request.path.startswith("/api/"):
                # API keys are their own factor; a session must be fully verified.
                if not request.headers.get("Authorization", "").startswith("Bearer "):
                    return JsonResponse(
                        {
                            "type": "https://rapport.dev/problems/two-factor-required",
                            "title": "Two-factor login required",
                            "status": 401,
                            "detail": "Complete two-factor login before using the API.",
                        },
                        status=401,
                        content_type="application/problem+json",
                    )
                return self.get_response(request)
            has_device = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
            target = "identity:two_factor_verify" if has_device else "identity:two_factor"
            return redirect(reverse(target))
        return self.get_response(request)


class UserLocaleMiddleware:
    """Activates the locale a user chose on their profile. Django's LocaleMiddleware
    (earlier in the chain) has already activated the browser's; it runs before
    authentication, so it cannot know the user. The user row is the one the request
    already loaded: no query."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        locale = getattr(user, "locale", "")  # AnonymousUser has none
        if locale and not request.path_info.startswith("/api/"):
            # A code no longer in LANGUAGES falls back to its nearest supported variant.
            try:
                locale = translation.get_supported_language_variant(locale)
            except LookupError:
                return self.get_response(request)
            translation.activate(locale)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
