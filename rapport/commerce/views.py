"""Commerce pages: orders, an order with its lines and shipments, goods in transit, and
the product catalogue. Thin: the lists, the product page and the product form are
declarations on core's generic pages; the order page's actions parse, call one service
and render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
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
from rapport.core.listing import Column, EmptyState, Listing, ListPage
from rapport.core.object_pages import (
    DetailPage,
    FormPage,
    Panel,
    apply_errors,
    posted_version,
)
from rapport.core.pagination import Page
from rapport.core.permissions import Scope, can
from rapport.customers import selectors as customer_selectors

PAGE_SIZES = (50,)


# --- Orders -------------------------------------------------------------------------------


class OrderList(ListPage):
    model = Order
    template = "commerce/order_list.html"
    results_template = "commerce/_order_results.html"
    filter_form = OrderFilterForm
    sorts = selectors.ORDER_SORTS
    default_sort = "-ordered_at"
    page_sizes = PAGE_SIZES
    columns = (
        Column("Order"),
        Column("Customer"),
        Column("Ordered", sort="ordered_at"),
        Column("Channel"),
        Column("Status"),
        Column("Total", sort="total", numeric=True),
    )
    empty = EmptyState(
        icon="shopping-bag",
        title="No orders yet",
        text="Orders arrive from your shop or ERP through the API (PUT /api/v1/orders/external/"
        "{id}) or an order import. Each one appears here and on its customer's timeline.",
    )
    empty_filtered = EmptyState(
        icon="search",
        title="No order matches these filters",
        text="Try a wider date range or another status, or clear the filters.",
        action_url="/commerce/orders/",
        action_label="Clear filters",
    )

    def read(
        self, *, data: dict[str, Any], sort: str, cursor: str | None, limit: int
    ) -> Page[Order]:
        filters = selectors.OrderFilters(
            q=data.get("q") or None,
            status=data.get("status") or None,
            channel=data.get("channel") or None,
            ordered_from=data.get("ordered_from"),
            ordered_to=data.get("ordered_to"),
            customer_id=data.get("customer"),
        )
        return selectors.order_page(
            actor=self.request.user, filters=filters, sort=sort, cursor=cursor, limit=limit
        )

    def customer(self, data: dict[str, Any]) -> Any:
        """The customer the list is narrowed to, if the user may see them (one query)."""
        if not data.get("customer"):
            return None
        if not hasattr(self, "_customer"):
            visible = customer_selectors.customer_list(actor=self.request.user)
            self._customer = visible.filter(pk=data["customer"]).first()
        return self._customer

    def is_filtered(self, data: dict[str, Any], params: QueryDict) -> bool:
        keys = ("q", "status", "channel", "ordered_from", "ordered_to")
        return any(data.get(k) for k in keys) or self.customer(data) is not None

    def extra_context(self, listing: Listing, data: dict[str, Any]) -> dict[str, Any]:
        return {"customer": self.customer(data)}


order_list = OrderList.as_view()


class OrderDetail(DetailPage):
    """An order with its lines and shipments, and the forms that move it along."""

    template = "commerce/order_detail.html"
    context_name = "order"

    def load(self, pk: int) -> Order:
        return selectors.order_detail(actor=self.request.user, pk=pk)

    def extra_context(self, order: Order, /, **forms: Any) -> dict[str, Any]:
        """`forms`: a posted status_form or shipment_form with its errors."""
        user = self.request.user
        allowed = services.order_next_statuses(order.status)
        status_form = forms.get("status_form") or OrderStatusForm()
        # Nothing is preselected: one click on "Update status" must not pick a status.
        set_choices(
            status_form,
            "status",
            [("", "Choose the new status…"), *((v, OrderStatus(v).label) for v in allowed)],
        )
        shipments = list(order.shipments.all())
        lines = list(order.lines.all())
        return {
            "lines": lines,
            "shipments": shipments,
            "may_edit": can(user, "edit", order) and bool(allowed),
            "may_ship": can(user, "create", Shipment),
            "may_track": {s.pk for s in shipments if can(user, "edit", s)},
            "status_form": status_form,
            "may_cancel": OrderStatus.CANCELLED in allowed,
            "shipment_form": forms.get("shipment_form") or ShipmentForm(),
            "tracking_form": ShipmentStatusForm(),
            "item_count": sum(line.quantity for line in lines),
        }


order_detail = OrderDetail.as_view()


def _render_order(request: AuthedRequest, pk: int, **forms: Any) -> HttpResponse:
    """The order page again, with a posted form's errors (422)."""
    page = OrderDetail(request)
    return page.render(page.load(pk), status=422, **forms)


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
                expected_version=posted_version(request),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            label = OrderStatus(form.cleaned_data["status"]).label.lower()
            messages.success(request, f"Order {order.number} is now {label}.")
            return redirect(order)
    return _render_order(request, pk, status_form=form)


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
            apply_errors(form, exc)
        else:
            messages.success(request, "Shipment added; the customer's timeline shows it.")
            return redirect(order)
    return _render_order(request, pk, shipment_form=form)


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
                expected_version=posted_version(request),
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


class InTransitList(ListPage):
    model = Shipment
    template = "commerce/in_transit.html"
    results_template = "commerce/_transit_results.html"
    filter_form = ShipmentFilterForm
    sorts = selectors.SHIPMENT_SORTS
    default_sort = "expected_delivery"
    page_sizes = PAGE_SIZES
    columns = (
        Column("Expected", sort="expected_delivery"),
        Column("Customer"),
        Column("Order"),
        Column("Carrier & tracking"),
        Column("Status"),
        Column("Latest scan"),
    )
    empty = EmptyState(
        icon="truck",
        title="Nothing in transit",
        text="Every shipment has arrived. New shipments appear here when you add one to an "
        "order or a carrier update arrives through the API.",
    )
    empty_filtered = EmptyState(
        icon="search",
        title="No shipment matches",
        text="No open shipment has this carrier or status. Clear the filters to see every "
        "parcel on its way.",
        action_url="/commerce/in-transit/",
        action_label="Clear filters",
    )

    def read(
        self, *, data: dict[str, Any], sort: str, cursor: str | None, limit: int
    ) -> Page[Shipment]:
        filters = selectors.ShipmentFilters(
            carrier=data.get("carrier") or None, status=data.get("status") or None
        )
        return selectors.shipments_in_transit(
            actor=self.request.user, filters=filters, sort=sort, cursor=cursor, limit=limit
        )

    def extra_context(self, listing: Listing, data: dict[str, Any]) -> dict[str, Any]:
        today = timezone.localdate()
        rows = []
        for shipment in listing.page.items if listing.page else ():
            due = shipment.expected_delivery
            days = (due - today).days if due else None
            late = -days if days is not None and days < 0 else 0
            rows.append({"shipment": shipment, "days": days, "late": late})
        return {"rows": rows}


in_transit = InTransitList.as_view()


# --- Products -----------------------------------------------------------------------------


class ProductList(ListPage):
    model = Product
    template = "commerce/product_list.html"
    results_template = "commerce/_product_results.html"
    sorts = selectors.PRODUCT_SORTS
    default_sort = "name"
    page_sizes = PAGE_SIZES
    columns = (
        Column("Product", sort="name"),
        Column("SKU", sort="sku"),
        Column("Category"),
        Column("Price", sort="price", numeric=True),
        Column("State"),
    )
    empty = EmptyState(
        icon="package",
        title="The catalogue is empty",
        text="An administrator or a colleague with the right role adds products here.",
    )
    empty_filtered = EmptyState(
        icon="search",
        title="No product matches",
        text="Search by exact SKU or part of the name, or clear the filters.",
        action_url="/commerce/products/",
        action_label="Clear filters",
    )

    def make_form(self, params: QueryDict) -> ProductFilterForm:
        categories = selectors.product_categories(actor=self.request.user)
        return ProductFilterForm(params or None, categories=categories)

    def read(
        self, *, data: dict[str, Any], sort: str, cursor: str | None, limit: int
    ) -> Page[Product]:
        return selectors.product_page(
            actor=self.request.user,
            q=data.get("q") or None,
            category=data.get("category") or None,
            active={"1": True, "0": False}.get(data.get("active") or ""),
            sort=sort,
            cursor=cursor,
            limit=limit,
        )

    @property
    def may_create(self) -> bool:
        return can(self.request.user, "create", Product)

    def empty_state(self, filtered: bool) -> EmptyState:
        if filtered or not self.may_create:
            return super().empty_state(filtered)
        return EmptyState(
            icon="package",
            title="The catalogue is empty",
            text="Add the products you sell, or let your shop create them through the API "
            "(POST /api/v1/products).",
            action_url=reverse("commerce:product_create"),
            action_label="Add the first product",
        )

    def extra_context(self, listing: Listing, data: dict[str, Any]) -> dict[str, Any]:
        return {"may_create": self.may_create}


product_list = ProductList.as_view()


class ProductDetail(DetailPage):
    template = "commerce/product_detail.html"
    context_name = "product"
    panels = (
        Panel("Description", "commerce/_product_description.html"),
        Panel("Details", "commerce/_product_facts.html"),
    )

    def load(self, pk: int) -> Product:
        return selectors.product_detail(actor=self.request.user, pk=pk)

    def extra_context(self, obj: Product, /, **extra: Any) -> dict[str, Any]:
        user = self.request.user
        return {
            "may_edit": can(user, "edit", Product),
            # The history page narrows by owner/team, which a catalogue row has not: only
            # all-scope viewers (and admins) can open it.
            "may_see_history": user.grant_for("commerce.product").scope == Scope.ALL,
        }


product_detail = ProductDetail.as_view()


class ProductFormPage(FormPage):
    """Add a product (no pk) or change one; both through the product services."""

    form_class = ProductForm
    template = "commerce/product_form.html"
    model = Product
    context_name = "product"
    denied_create = "Your role may not add products."
    denied_edit = "Your role may not change products."

    def load(self, pk: int) -> Product:
        return selectors.product_detail(actor=self.request.user, pk=pk)

    def check_access(self, obj: Any) -> None:
        # The catalogue has no owners: the grant decides for every product alike.
        if not can(self.request.user, "create" if obj is None else "edit", Product):
            raise PermissionDenied(self.denied_create if obj is None else self.denied_edit)

    def initial(self, obj: Product) -> dict[str, Any]:
        fields = ("sku", "name", "category", "price", "currency", "description", "active")
        return {name: getattr(obj, name) for name in fields}

    def save(self, form: Any, obj: Any, *, expected_version: int | None) -> Product:
        data = services.ProductInput(**form.cleaned_data)
        if obj is None:
            return services.product_create(actor=self.request.user, data=data)
        return services.product_update(
            actor=self.request.user, product=obj, data=data, expected_version=expected_version
        )

    def success_message(self, obj: Any, *, created: bool) -> str:
        return f"{obj.name} added to the catalogue." if created else "Product saved."


product_create = ProductFormPage.as_view()
product_edit = ProductFormPage.as_view()
