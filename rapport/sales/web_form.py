"""The public web-to-lead endpoint: a form on the company's own site posts here (no login).

Refused before anything is written: an Origin not on SALES_WEB_FORM_ORIGINS (403), more
than RATELIMIT_WEB_LEAD submissions from one IP (429), invalid input (400 with the field
errors). A filled honeypot field (`website`, hidden from people) is answered like a
success and dropped, so a bot learns nothing. The lead is captured through
`services.lead_create` (the same matching and "one open lead per person" as any capture),
with the source and UTM parameters the form carries.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_ratelimit.decorators import ratelimit

from rapport.core.permissions import system_actor
from rapport.core.redirects import safe_on_origin
from rapport.sales import services

FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "organization_name",
    "title",
    "country",
    "message",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
)
HONEYPOT = "website"


def _allowed_origin(request: HttpRequest) -> str | None:
    origin = request.headers.get("Origin", "")
    allowed = {o.rstrip("/") for o in settings.SALES_WEB_FORM_ORIGINS}
    return origin if origin and origin.rstrip("/") in allowed else None


def _answer(request: HttpRequest, origin: str, status: int, body: dict[str, Any]) -> HttpResponse:
    back = safe_on_origin(request.POST.get("redirect"), origin=origin)
    if status == 200 and back:
        return redirect(back)  # a plain HTML form: back to the site's thank-you page
    response = JsonResponse(body, status=status)
    response["Access-Control-Allow-Origin"] = origin
    response["Vary"] = "Origin"
    return response


@csrf_exempt  # posted from another site by design; the Origin allow-list stands in for CSRF
@require_POST
@ratelimit(key="ip", group="web-lead", rate=lambda g, r: settings.RATELIMIT_WEB_LEAD, block=True)
def web_lead(request: HttpRequest) -> HttpResponse:
    origin = _allowed_origin(request)
    if origin is None:
        return JsonResponse({"detail": "This site may not post leads here."}, status=403)
    if request.POST.get(HONEYPOT):
        return _answer(request, origin, 200, {"ok": True})
    values: dict[str, Any] = {name: request.POST.get(name, "")[:5000] for name in FIELDS}
    source = (request.POST.get("source") or "web form")[:100]
    try:
        services.lead_create(actor=system_actor(), data=services.LeadInput(source=source, **values))
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        return _answer(request, origin, 400, {"ok": False, "errors": errors})
    return _answer(request, origin, 200, {"ok": True})
