"""Redirect targets that stay on our own origin."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request: HttpRequest, candidate: str | None, fallback: str) -> str:
    """`candidate` when it is a path on this site, else `fallback`.

    Only absolute paths are accepted: absolute URLs (even to our own host), scheme-relative
    `//evil.tld` and backslash tricks like `/\\evil.tld` are all refused.
    """
    if not candidate or not candidate.startswith("/") or candidate.startswith(("//", "/\\")):
        return fallback
    if "\\" in candidate or any(ord(c) < 32 for c in candidate):
        return fallback
    if not url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return fallback
    return candidate


def safe_on_origin(candidate: str | None, *, origin: str) -> str | None:
    """`candidate` when it is an absolute URL on exactly `origin` (scheme, host and port:
    an allow-listed site sending a form back to its own thank-you page), else None."""
    if not candidate or not origin or "\\" in candidate:
        return None
    if any(ord(c) < 32 for c in candidate) or not candidate.startswith(origin.rstrip("/") + "/"):
        return None
    scheme, _, host = origin.rstrip("/").partition("://")
    if not url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={host}, require_https=scheme == "https"
    ):
        return None
    return candidate
