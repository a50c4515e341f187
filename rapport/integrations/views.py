"""Webhook pages for administrators: list, create (secret shown once), edit
subscriptions, deactivate, rotate the secret, and a delivery log with Replay."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from rapport.core.http import AuthedRequest
from rapport.core.pagination import SortKey, keyset_page
from rapport.integrations import selectors, services
from rapport.integrations.forms import EndpointForm
from rapport.integrations.models import WebhookEndpoint

DELIVERIES_PER_PAGE = 25


def _admin(request: AuthedRequest) -> None:
    if not request.user.is_admin:
        raise PermissionDenied


def _endpoint(request: AuthedRequest, endpoint_id: int) -> WebhookEndpoint:
    try:
        return selectors.endpoint_get(actor=request.user, pk=endpoint_id)
    except WebhookEndpoint.DoesNotExist as exc:
        raise Http404 from exc


def _apply_errors(form: EndpointForm, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@login_required
def endpoint_list(request: AuthedRequest) -> HttpResponse:
    _admin(request)
    endpoints = list(selectors.endpoint_list(actor=request.user))
    return render(request, "integrations/list.html", {"endpoints": endpoints})


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_create(request: AuthedRequest) -> HttpResponse:
    _admin(request)
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = services.endpoint_create(
                actor=request.user,
                url=form.cleaned_data["url"],
                event_types=form.cleaned_data["event_types"],
                description=form.cleaned_data["description"],
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            # Rendered, not redirected: the secret exists in this response only.
            return render(
                request,
                "integrations/secret.html",
                {"endpoint": endpoint, "secret": secret, "created": True},
            )
    return render(request, "integrations/form.html", {"form": form, "endpoint": None})


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_detail(request: AuthedRequest, endpoint_id: int) -> HttpResponse:
    _admin(request)
    endpoint = _endpoint(request, endpoint_id)
    initial: dict[str, Any] = {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
    }
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.endpoint_update(
                actor=request.user,
                endpoint=endpoint,
                url=form.cleaned_data["url"],
                event_types=form.cleaned_data["event_types"],
                description=form.cleaned_data["description"],
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "Webhook saved.")
            return redirect("integrations:detail", endpoint.pk)
    page = keyset_page(
        selectors.deliveries_for(actor=request.user, endpoint=endpoint),
        sort_key=SortKey("id", "pk"),
        descending=True,
        cursor=request.GET.get("cursor") or None,
        limit=DELIVERIES_PER_PAGE,
    )
    return render(
        request,
        "integrations/detail.html",
        {"endpoint": endpoint, "form": form, "page": page},
    )


@login_required
@require_POST
def endpoint_toggle(request: AuthedRequest, endpoint_id: int) -> HttpResponse:
    _admin(request)
    endpoint = _endpoint(request, endpoint_id)
    services.endpoint_update(
        actor=request.user, endpoint=endpoint, is_active=not endpoint.is_active
    )
    messages.success(
        request, "Webhook deactivated." if endpoint.is_active else "Webhook activated."
    )
    return redirect("integrations:detail", endpoint.pk)


@login_required
@require_POST
def endpoint_rotate(request: AuthedRequest, endpoint_id: int) -> HttpResponse:
    _admin(request)
    endpoint = _endpoint(request, endpoint_id)
    secret = services.endpoint_rotate_secret(actor=request.user, endpoint=endpoint)
    return render(
        request,
        "integrations/secret.html",
        {"endpoint": endpoint, "secret": secret, "created": False},
    )


@login_required
@require_POST
def endpoint_delete(request: AuthedRequest, endpoint_id: int) -> HttpResponse:
    _admin(request)
    endpoint = _endpoint(request, endpoint_id)
    services.endpoint_delete(actor=request.user, endpoint=endpoint)
    messages.success(request, "Webhook deleted.")
    return redirect("integrations:list")


@login_required
@require_POST
def delivery_replay(request: AuthedRequest, endpoint_id: int, delivery_id: int) -> HttpResponse:
    _admin(request)
    endpoint = _endpoint(request, endpoint_id)
    try:
        delivery = selectors.delivery_get(actor=request.user, endpoint=endpoint, pk=delivery_id)
    except Exception as exc:
        raise Http404 from exc
    services.delivery_replay(actor=request.user, delivery=delivery)
    messages.success(request, f"Replay of {delivery.event_type} queued.")
    return redirect("integrations:detail", endpoint.pk)


@login_required
def delivery_detail(request: AuthedRequest, endpoint_id: int, delivery_id: int) -> HttpResponse:
    _admin(request)
    endpoint = _endpoint(request, endpoint_id)
    try:
        delivery = selectors.delivery_get(actor=request.user, endpoint=endpoint, pk=delivery_id)
    except Exception as exc:
        raise Http404 from exc
    import json

    return render(
        request,
        "integrations/delivery.html",
        {
            "endpoint": endpoint,
            "delivery": delivery,
            "payload": json.dumps(delivery.payload, indent=2, sort_keys=True),
        },
    )
