"""Commerce pages: orders, an order with its lines and shipments, goods in transit, and
the product catalogue. Thin: parse, call a selector or a service, render."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from rapport.commerce import selectors, services
from rapport.commerce.forms import (
    OrderFilterForm,
    OrderStatusForm,
    ProductFilterForm,
    ProductForm,
    ShipmentFilterForm,
    ShipmentForm,
    ShipmentStatusForm,
    set_choices,
)
from rapport.commerce.models import Order, OrderStatus, Product, Shipment
from rapport.core.errors import Conflict
from rapport.core.http import AuthedRequest
from rapport.core.permissions import Scope, can
from rapport.customers import selectors as customer_selectors

PAGE_SIZE = 50


def _require_view(request: AuthedRequest, model: type[Any]) -> None:
    if not can(request.user, "view", model):
        raise PermissionDenied("Your role does not include this page.")


def _apply_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's field errors on the form's fields (others on the form)."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, messages_ in exc.message_dict.items():
        form.add_error(name if name in form.fields else None, messages_)


def _next_url(request: AuthedRequest, cursor: str | None) -> str | None:
    if not cursor:
        return None
    params = request.GET.copy()
    params["cursor"] = cursor
    return "?" + params.urlencode()


def _first_url(request: AuthedRequest) -> str | None:
    if "cursor" not in request.GET:
        return None
    params = request.GET.copy()
    del params["cursor"]
    return "?" + params.urlencode()


# --- Orders -------------------------------------------------------------------------------


@login_required
def order_list(request: AuthedRequest) -> HttpResponse:
    _require_view(request, Order)
    form = OrderFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    # A bad filter is said, not silently dropped (the list would look filtered).
    error = " ".join(f"{name}: {m}" for name, msgs in form.errors.items() for m in msgs)
    customer = None
    if data.get("customer"):
        customer = (
            customer_selectors.customer_list(actor=request.user).filter(pk=data["customer"]).first()
        )
    filters = selectors.OrderFilters(
        q=data.get("q") or None,
        status=data.get("status") or None,
        channel=data.get("channel") or None,
        ordered_from=data.get("ordered_from"),
        ordered_to=data.get("ordered_to"),
        customer_id=data.get("customer"),
    )
    try:
        page = selectors.order_page(
            actor=request.user,
            filters=filters,
            sort=data.get("sort") or None,
            cursor=request.GET.get("cursor"),
            limit=PAGE_SIZE,
        )
    except ValidationError as exc:
        error = " ".join(exc.messages)
        page = selectors.order_page(actor=request.user, filters=filters, limit=PAGE_SIZE)
    filtered = any(data.get(k) for k in ("q", "status", "channel", "ordered_from", "ordered_to"))
    return render(
        request,
        "commerce/order_list.html",
        {
            "form": form,
            "page": page,
            "customer": customer,
            "filtered": filtered or customer is not None,
            "error": error,
            "next_url": _next_url(request, page.next_cursor),
            "first_url": _first_url(request),
        },
    )


@login_required
def order_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    order = selectors.order_detail(actor=request.user, pk=pk)
    return _render_order(request, order)


def _render_order(
    request: AuthedRequest,
    order: Order,
    *,
    status_form: OrderStatusForm | None = None,
    shipment_form: ShipmentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    allowed = services.order_next_statuses(order.status)
    if status_form is None:
        status_form = OrderStatusForm()
    # Nothing is preselected: one click on "Update status" must not pick a status for the user.
    set_choices(
        status_form,
        "status",
        [("", "Choose the new status…"), *((v, OrderStatus(v).label) for v in allowed)],
    )
    shipments = list(order.shipments.all())
    may_track = {s.pk for s in shipments if can(user, "edit", s)}
    lines = list(order.lines.all())
    return render(
        request,
        "commerce/order_detail.html",
        {
            "order": order,
            "lines": lines,
            "shipments": shipments,
            "may_edit": can(user, "edit", order) and bool(allowed),
            "may_ship": can(user, "create", Shipment),
            "may_track": may_track,
            "status_form": status_form,
            "may_cancel": OrderStatus.CANCELLED in allowed,
            "shipment_form": shipment_form or ShipmentForm(),
            "tracking_form": ShipmentStatusForm(),
            "item_count": sum(line.quantity for line in lines),
        },
        status=status,
    )


@login_required
@require_POST
def order_status(request: AuthedRequest, pk: int) -> HttpResponse:
    order = selectors.order_for_update(actor=request.user, pk=pk)
    form = OrderStatusForm(request.POST)
    set_choices(form, "status", OrderStatus.choices)
    if form.is_valid():
        try:
            services.order_update_status(
                actor=request.user,
                order=order,
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"],
                expected_version=_version(request),
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            label = OrderStatus(form.cleaned_data["status"]).label.lower()
            messages.success(request, f"Order {order.number} is now {label}.")
            return redirect(order)
    order = selectors.order_detail(actor=request.user, pk=pk)
    return _render_order(request, order, status_form=form, status=422)


def _version(request: AuthedRequest) -> int | None:
    raw = request.POST.get("version", "")
    return int(raw) if raw.isdigit() else None


@login_required
@require_POST
def shipment_add(request: AuthedRequest, pk: int) -> HttpResponse:
    order = selectors.order_for_update(actor=request.user, pk=pk)
    form = ShipmentForm(request.POST)
    if form.is_valid():
        try:
            services.shipment_create(
                actor=request.user,
                order=order,
                data=services.ShipmentInput(**form.cleaned_data),
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "Shipment added; the customer's timeline shows it.")
            return redirect(order)
    order = selectors.order_detail(actor=request.user, pk=pk)
    return _render_order(request, order, shipment_form=form, status=422)


@login_required
@require_POST
def shipment_status(request: AuthedRequest, pk: int) -> HttpResponse:
    shipment = selectors.shipment_detail(actor=request.user, pk=pk)
    form = ShipmentStatusForm(request.POST)
    if form.is_valid():
        try:
            services.shipment_update_status(
                actor=request.user,
                shipment=shipment,
                status=form.cleaned_data["status"],
                location=form.cleaned_data["location"],
                description=form.cleaned_data["description"],
                expected_version=_version(request),
            )
        except (ValidationError, Conflict) as exc:
            text = exc.message if isinstance(exc, Conflict) else " ".join(exc.messages)
            messages.error(request, f"Tracking update not saved: {text}")
        else:
            messages.success(request, "Tracking update saved.")
    else:
        messages.error(request, "Choose a status for the tracking update.")
    return redirect(shipment.order)


# --- Goods in transit ---------------------------------------------------------------------


@login_required
def in_transit(request: AuthedRequest) -> HttpResponse:
    _require_view(request, Shipment)
    form = ShipmentFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    filters = selectors.ShipmentFilters(
        carrier=data.get("carrier") or None, status=data.get("status") or None
    )
    try:
        page = selectors.shipments_in_transit(
            actor=request.user,
            filters=filters,
            cursor=request.GET.get("cursor"),
            limit=PAGE_SIZE,
        )
    except ValidationError:
        page = selectors.shipments_in_transit(actor=request.user, filters=filters, limit=PAGE_SIZE)
    today = timezone.localdate()
    rows = []
    for shipment in page.items:
        days = (shipment.expected_delivery - today).days if shipment.expected_delivery else None
        late = -days if days is not None and days < 0 else 0
        rows.append({"shipment": shipment, "days": days, "late": late})
    return render(
        request,
        "commerce/in_transit.html",
        {
            "form": form,
            "rows": rows,
            "page": page,
            "filtered": bool(data.get("carrier") or data.get("status")),
            "next_url": _next_url(request, page.next_cursor),
            "first_url": _first_url(request),
        },
    )


# --- Products -----------------------------------------------------------------------------


@login_required
def product_list(request: AuthedRequest) -> HttpResponse:
    _require_view(request, Product)
    categories = selectors.product_categories(actor=request.user)
    form = ProductFilterForm(request.GET or None, categories=categories)
    data = form.cleaned_data if form.is_valid() else {}
    active = {"1": True, "0": False}.get(data.get("active") or "")
    try:
        page = selectors.product_page(
            actor=request.user,
            q=data.get("q") or None,
            category=data.get("category") or None,
            active=active,
            sort=request.GET.get("sort"),
            cursor=request.GET.get("cursor"),
            limit=PAGE_SIZE,
        )
    except ValidationError:
        page = selectors.product_page(actor=request.user, limit=PAGE_SIZE)
    return render(
        request,
        "commerce/product_list.html",
        {
            "form": form,
            "page": page,
            "filtered": any(data.get(k) for k in ("q", "category", "active")),
            "may_create": can(request.user, "create", Product),
            "next_url": _next_url(request, page.next_cursor),
            "first_url": _first_url(request),
        },
    )


@login_required
def product_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    product = selectors.product_detail(actor=request.user, pk=pk)
    return render(
        request,
        "commerce/product_detail.html",
        {
            "product": product,
            "may_edit": can(request.user, "edit", Product),
            # The history page narrows by owner/team, which a catalogue row has not: only
            # all-scope viewers (and admins) can open it.
            "may_see_history": request.user.grant_for("commerce.product").scope == Scope.ALL,
        },
    )


@login_required
def product_create(request: AuthedRequest) -> HttpResponse:
    if not can(request.user, "create", Product):
        raise PermissionDenied("Your role may not add products.")
    form = ProductForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            product = services.product_create(
                actor=request.user, data=services.ProductInput(**form.cleaned_data)
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"{product.name} added to the catalogue.")
            return redirect(product)
    return render(request, "commerce/product_form.html", {"form": form, "product": None})


@login_required
def product_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    product = selectors.product_detail(actor=request.user, pk=pk)
    if not can(request.user, "edit", Product):
        raise PermissionDenied("Your role may not change products.")
    initial = {
        "sku": product.sku,
        "name": product.name,
        "category": product.category,
        "price": product.price,
        "currency": product.currency,
        "description": product.description,
        "active": product.active,
    }
    form = ProductForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            product = services.product_update(
                actor=request.user,
                product=product,
                data=services.ProductInput(**form.cleaned_data),
                expected_version=_version(request),
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Product saved.")
            return redirect(product)
    return render(request, "commerce/product_form.html", {"form": form, "product": product})
