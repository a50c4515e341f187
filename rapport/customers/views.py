"""Customer pages: the list with filters, saved views and bulk actions; create and edit
forms; the 360° page with inline edits, timeline, notes, consent and relationships; GDPR
export and erasure; the custom fields admin page. Views parse input, call one service or
selector and render; every rule lives in services and selectors."""

from __future__ import annotations

import dataclasses
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from rapport.core import humanize, registry
from rapport.core.errors import Conflict
from rapport.core.http import AuthedRequest
from rapport.core.listing import Column, EmptyState, Listing, ListPage
from rapport.core.pagination import Page
from rapport.core.permissions import can
from rapport.core.widgets import DateInput
from rapport.customers import quality, selectors, services, timeline
from rapport.customers.custom_fields import definitions as custom_definitions
from rapport.customers.forms import (
    AddressFormSet,
    AffiliationForm,
    ConsentForm,
    CustomerForm,
    CustomFieldForm,
    EmailFormSet,
    NoteForm,
    PhoneFormSet,
    RelationshipForm,
    attach_errors,
    contact_inputs,
    custom_form_field,
    custom_initial,
    custom_value,
    initial_for,
)
from rapport.customers.models import (
    Affiliation,
    Channel,
    ConsentChannel,
    ConsentPurpose,
    Customer,
    CustomerKind,
    CustomFieldDefinition,
    CustomFieldType,
    InteractionKind,
    LifecycleStage,
    Relationship,
)
from rapport.identity import selectors as identity_selectors

CUSTOMER_TYPE = "customers.customer"
# Pages of the import/export app (dataquality), linked by path: customers sits below it.
EXPORT_URL = "/exports/new/"
IMPORT_URL = "/imports/new/"


def _owners_and_teams() -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    return identity_selectors.assignee_choices()


def _list_params(request: AuthedRequest) -> QueryDict:
    """The request's list parameters, or a saved view's when `view` names one."""
    params = request.GET.copy()
    view_id = params.get("view")
    if view_id and view_id.isdigit() and len(params) == 1:
        saved = selectors.saved_views(actor=request.user).filter(pk=int(view_id)).first()
        if saved is not None:
            params = QueryDict(mutable=True)
            for key, value in saved.params.items():
                params.setlist(key, value if isinstance(value, list) else [value])
            params["view"] = view_id
    return params


def _filters_only(params: QueryDict) -> dict[str, Any]:
    return {
        k: params.getlist(k)
        for k in params
        if k not in {"sort", "cursor", "page_size", "view"}
        and any(v.strip() for v in params.getlist(k))
    }


# Filters behind "More filters": the fold opens when one of them is set.
MORE_FILTERS = frozenset(
    [
        "team",
        "city",
        "source",
        "created_after",
        "created_before",
        "has_email",
        "quality_below",
        "quality_issue",
    ]
)


class CustomerList(ListPage):
    """The customer list: filters over every customer attribute, saved views, a column
    chooser and bulk actions, on core's generic list page."""

    model = Customer
    template = "customers/list.html"
    page_sizes = selectors.PAGE_SIZES
    default_page_size = 50
    # A bad filter, sort or cursor shows no rows and says why (400): the list would
    # otherwise look filtered by something it is not.
    on_bad_request = "error"
    header_drops = ("view",)  # a re-sorted saved view is no longer that view
    empty = EmptyState(
        icon="users",
        title="No customers yet",
        text="Add your first person or organization, or import a CSV or Excel file of "
        "contacts. Every e-mail, call, order and note about them will land on one timeline.",
        action_label="Add a person",
    )
    empty_filtered = EmptyState(
        icon="search",
        title="No customer matches these filters",
        text="Try fewer filters or a different search; the count above covers only the "
        "customers you may see.",
        action_label="Clear the filters",
    )

    def check_access(self) -> None:
        """Nothing to refuse: the selectors narrow the rows to the user's record scope."""

    def params(self) -> QueryDict:
        return _list_params(self.request)

    def make_form(self, params: QueryDict) -> None:
        return None

    def filters(self, params: QueryDict, form: Any) -> dict[str, Any]:
        return _filters_only(params)

    def sort_default(self, data: dict[str, Any], params: QueryDict) -> str:
        return selectors.default_sort(data)

    def visible_columns(self) -> list[Column]:
        return [
            Column(label, key=column, sort=key)
            for column, label, key in selectors.LIST_COLUMNS
            if column in self.saved[1]
        ]

    def read(
        self, *, data: dict[str, Any], sort: str, cursor: str | None, limit: int
    ) -> Page[Customer]:
        user = self.request.user
        # The count first: it tells the page how to read its rows (see customer_page).
        self.count = selectors.capped_count(selectors.customer_list(actor=user, filters=data))
        return selectors.customer_page(
            actor=user, filters=data, sort=sort, cursor=cursor, limit=limit, matches=self.count
        )

    def export_url(self, data: dict[str, Any], params: QueryDict) -> str:
        pairs = [("object_type", CUSTOMER_TYPE)] + [(k, v) for k, vs in data.items() for v in vs]
        return EXPORT_URL + "?" + urlencode(pairs)

    def empty_state(self, filtered: bool) -> EmptyState:
        state = super().empty_state(filtered)
        url = (
            reverse("customers:list") if filtered else reverse("customers:create", args=["person"])
        )
        return dataclasses.replace(state, action_url=url)

    @cached_property
    def saved(self) -> tuple[Any, list[str]]:
        """The user's saved views and chosen columns (one query)."""
        return selectors.saved_views_and_columns(actor=self.request.user)

    def extra_context(self, listing: Listing, data: dict[str, Any]) -> dict[str, Any]:
        params = self.query
        saved_views, columns = self.saved
        owners, teams = _owners_and_teams()
        choice_fields = _choice_filters(params)
        return {
            "count": getattr(self, "count", None) if listing.page is not None else None,
            "params": params,
            "filters": data,
            "has_filters": listing.filtered,
            "headers": listing.headers,
            "export_url": listing.export_url,
            "import_url": IMPORT_URL,
            "stages": LifecycleStage.choices,
            "kinds": CustomerKind.choices,
            "owners": owners,
            "teams": teams,
            "tags": selectors.tag_names(),
            "choice_fields": choice_fields,
            "quality_issues": [(info.key, info.label) for info in quality.ISSUES],
            "more_filters_open": any(params.get(k) for k in MORE_FILTERS)
            or any(f["active"] for f in choice_fields),
            "saved_views": saved_views,
            "columns": columns,
            "column_choices": [(c, label) for c, label, _ in selectors.LIST_COLUMNS if c != "name"],
            "current_view": params.get("view", ""),
            "can_create": can(self.request.user, "create", Customer),
            "can_edit": can(self.request.user, "edit", Customer),
            "can_delete": can(self.request.user, "delete", Customer),
            "can_export": can(self.request.user, "export", Customer),
            "query_string": listing.query_string,
        }


def _choice_filters(params: QueryDict) -> list[dict[str, Any]]:
    """The custom fields with a fixed set of values, as filter selects."""
    fields = []
    for d in selectors.custom_field_definitions():
        if d.field_type == CustomFieldType.BOOLEAN:
            options = [("yes", "Yes"), ("no", "No")]
        elif d.field_type in (CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE):
            options = [(c, c) for c in d.choices]
        else:
            continue
        chosen = params.get(f"cf_{d.key}", "")
        fields.append(
            {
                "name": f"cf_{d.key}",
                "label": d.label,
                "options": [(v, label, v == chosen) for v, label in options],
                "active": bool(chosen),
            }
        )
    return fields


customer_list = CustomerList.as_view()


@login_required
@require_POST
def bulk_action(request: AuthedRequest) -> HttpResponse:
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    action = request.POST.get("action", "")
    back = reverse("customers:list")
    query = request.POST.get("query", "")
    if query:
        back += "?" + QueryDict(query).urlencode()
    if request.POST.get("scope") == "matching":
        owner = request.POST.get("owner", "")
        try:
            job = services.customers_bulk_matching_start(
                actor=request.user,
                filters=_filters_only(QueryDict(query)),
                action=action,
                tag=request.POST.get("tag", ""),
                owner_id=int(owner) if owner.isdigit() and action == "assign" else None,
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(back)
        messages.info(request, "Working through every matching customer in the background.")
        return redirect("core:job_detail", job_id=job.pk)
    if not ids:
        messages.warning(request, "Select at least one customer first.")
        return redirect(back)
    try:
        if action in ("tag", "untag"):
            names = [t for t in request.POST.get("tag", "").split(",") if t.strip()]
            result = services.customers_bulk_tag(
                actor=request.user,
                customer_ids=ids,
                add=names if action == "tag" else (),
                remove=names if action == "untag" else (),
            )
            verb = "Tagged" if action == "tag" else "Untagged"
        elif action == "assign":
            owner = request.POST.get("owner", "")
            result = services.customers_bulk_assign(
                actor=request.user,
                customer_ids=ids,
                owner_id=int(owner) if owner.isdigit() else None,
            )
            verb = "Assigned"
        elif action == "delete":
            result = services.customers_bulk_delete(actor=request.user, customer_ids=ids)
            verb = "Deleted"
        else:
            messages.error(request, "Choose what to do with the selected customers.")
            return redirect(back)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    text = f"{verb} {result.done} customer{'s' if result.done != 1 else ''}."
    if result.skipped:
        text += f" {result.skipped} skipped: you may not change them."
    messages.success(request, text) if result.done else messages.warning(request, text)
    return redirect(back)


@login_required
@require_POST
def saved_view_create(request: AuthedRequest) -> HttpResponse:
    params = QueryDict(request.POST.get("query", ""))
    try:
        view = services.saved_view_create(
            actor=request.user,
            name=request.POST.get("name", ""),
            params={k: params.getlist(k) for k in params},
            is_shared=request.POST.get("is_shared") == "on",
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(reverse("customers:list") + ("?" + params.urlencode() if params else ""))
    messages.success(request, f"Saved the view “{view.name}”.")
    return redirect(reverse("customers:list") + f"?view={view.pk}")


@login_required
@require_POST
def list_columns(request: AuthedRequest) -> HttpResponse:
    """The column chooser: save the user's columns, back to the list as it was."""
    query = QueryDict(request.POST.get("query", ""))
    try:
        services.list_columns_save(actor=request.user, columns=request.POST.getlist("columns"))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(reverse("customers:list") + ("?" + query.urlencode() if query else ""))


@login_required
@require_POST
def saved_view_delete(request: AuthedRequest, pk: int) -> HttpResponse:
    view = selectors.saved_views(actor=request.user).filter(pk=pk).first()
    if view is None:
        raise Http404
    services.saved_view_delete(actor=request.user, view=view)
    messages.success(request, f"Deleted the view “{view.name}”.")
    return redirect("customers:list")


# --- Create and edit -----------------------------------------------------------------


def _contact_formsets(request: AuthedRequest, customer: Customer | None) -> dict[str, Any]:
    data = request.POST if request.method == "POST" else None
    if customer is None:
        initial: dict[str, list[dict[str, Any]]] = {"emails": [], "phones": [], "addresses": []}
    else:
        initial = {
            "emails": [
                {"email": e.email, "kind": e.kind, "is_primary": e.is_primary}
                for e in customer.emails.all()
            ],
            "phones": [
                {"number": p.e164, "kind": p.kind, "is_primary": p.is_primary}
                for p in customer.phones.all()
            ],
            "addresses": [
                {
                    f: getattr(a, f)
                    for f in (
                        "line1",
                        "line2",
                        "postcode",
                        "city",
                        "region",
                        "country",
                        "kind",
                        "is_primary",
                    )
                }
                for a in customer.addresses.all()
            ],
        }
    return {
        "emails": EmailFormSet(data, prefix="emails", initial=initial["emails"]),
        "phones": PhoneFormSet(data, prefix="phones", initial=initial["phones"]),
        "addresses": AddressFormSet(data, prefix="addresses", initial=initial["addresses"]),
    }


def _customer_form(request: AuthedRequest, kind: str, customer: Customer | None) -> HttpResponse:
    owners, teams = _owners_and_teams()
    defs = list(selectors.custom_field_definitions())
    initial = initial_for(customer) if customer else {}
    if customer:
        for d in defs:
            initial[f"cf_{d.key}"] = custom_initial(d, customer.custom_fields.get(d.key))
    form = CustomerForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        kind=kind,
        definitions=defs,
        owners=owners,
        teams=teams,
    )
    formsets = _contact_formsets(request, customer)
    conflict = None
    if (
        request.method == "POST"
        and form.is_valid()
        and all(f.is_valid() for f in formsets.values())
    ):
        data = form.to_input(creating=customer is None)
        data.emails, data.phones, data.addresses = contact_inputs(
            formsets["emails"], formsets["phones"], formsets["addresses"]
        )
        try:
            if customer is None:
                saved = services.customer_create(actor=request.user, data=data)
                messages.success(request, f"Created {saved.display_name}.")
            else:
                version = request.POST.get("version", "")
                saved = services.customer_update(
                    actor=request.user,
                    customer=customer,
                    data=data,
                    expected_version=int(version) if version.isdigit() else None,
                )
                messages.success(request, f"Saved {saved.display_name}.")
            return redirect(saved.get_absolute_url())
        except ValidationError as exc:
            attach_errors(exc, form, formsets)
        except Conflict as exc:
            conflict = exc.message
    status = 400 if request.method == "POST" else 200
    if conflict:
        status = 409
    return render(
        request,
        "customers/form.html",
        {
            "form": form,
            "formsets": formsets,
            "customer": customer,
            "kind": kind,
            "is_org": kind == CustomerKind.ORGANIZATION,
            "conflict": conflict,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def customer_create(request: AuthedRequest, kind: str) -> HttpResponse:
    if kind not in CustomerKind.values:
        raise Http404
    if not can(request.user, "create", Customer):
        raise PermissionDenied("Your role does not allow creating customers.")
    return _customer_form(request, kind, None)


def _visible_customer(request: AuthedRequest, pk: int) -> Customer:
    try:
        return selectors.customer_detail(actor=request.user, pk=pk)
    except Customer.DoesNotExist as exc:
        raise Http404 from exc


@login_required
@require_http_methods(["GET", "POST"])
def customer_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    customer = _visible_customer(request, pk)
    if not can(request.user, "edit", customer):
        raise PermissionDenied("You may not edit this customer.")
    return _customer_form(request, customer.kind, customer)


# --- The 360° page ---------------------------------------------------------------------

INLINE_FIELDS: dict[str, str] = {
    "first_name": "First name",
    "last_name": "Last name",
    "organization_name": "Organization name",
    "job_title": "Job title",
    "birth_date": "Birth date",
    "language": "Language",
    "source": "Source",
    "lifecycle_stage": "Lifecycle stage",
    "website": "Website",
    "industry": "Industry",
    "external_id": "External id",
    "tags": "Tags",
}


def _is_web_url(value: Any) -> bool:
    """Only http(s) values become links: a `javascript:` URL stored by any path stays text."""
    return isinstance(value, str) and value.lower().startswith(("https://", "http://"))


def _facts(customer: Customer, defs: list[CustomFieldDefinition]) -> list[dict[str, Any]]:
    names = (
        [
            "organization_name",
            "industry",
            "website",
            "lifecycle_stage",
            "source",
            "language",
            "external_id",
        ]
        if customer.kind == CustomerKind.ORGANIZATION
        else [
            "first_name",
            "last_name",
            "job_title",
            "birth_date",
            "lifecycle_stage",
            "language",
            "source",
            "website",
            "external_id",
        ]
    )
    facts = []
    for name in names:
        value = getattr(customer, name)
        if name == "lifecycle_stage":
            value = customer.get_lifecycle_stage_display()
        elif name == "language":
            value = humanize.language_name(value)  # "en" → "English"
        elif name == "source":
            value = humanize.words(value)  # "demo-duplicate" → "Demo duplicate"
        facts.append(
            {
                "name": name,
                "label": INLINE_FIELDS[name],
                "value": value,
                "is_url": name == "website" and _is_web_url(value),
            }
        )
    for d in defs:
        value = customer.custom_fields.get(d.key)
        if isinstance(value, list):
            value = ", ".join(value)
        elif isinstance(value, bool):
            value = "Yes" if value else "No"
        facts.append(
            {
                "name": f"cf_{d.key}",
                "label": d.label,
                "value": value,
                "is_url": d.field_type == CustomFieldType.URL and _is_web_url(value),
                "custom": True,
            }
        )
    return facts


def _timeline_context(request: AuthedRequest, customer: Customer) -> dict[str, Any]:
    kinds = [k for k in request.GET.getlist("kind") if k in InteractionKind.values]
    channels = [c for c in request.GET.getlist("channel") if c in Channel.values]
    try:
        page = selectors.timeline(
            actor=request.user,
            customer=customer,
            kinds=kinds,
            channels=channels,
            cursor=request.GET.get("cursor"),
        )
    except ValidationError as exc:
        raise Http404(" ".join(exc.messages)) from exc
    next_url = None
    if page.next_cursor:
        query = QueryDict(mutable=True)
        query.setlist("kind", kinds)
        query.setlist("channel", channels)
        query["cursor"] = page.next_cursor
        next_url = reverse("customers:timeline", args=[customer.pk]) + "?" + query.urlencode()
    return {
        "entries": page.items,
        "items": timeline.group(page.items),
        "next_url": next_url,
        "selected_kinds": kinds,
        "selected_channels": channels,
        "filter_count": len(kinds) + len(channels),
        "customer": customer,
        "rollup": customer.kind == CustomerKind.ORGANIZATION,
        "kinds": InteractionKind.choices,
        "channels": Channel.choices,
    }


def _panel_blocks(request: AuthedRequest, customer: Customer, column: str) -> list[dict[str, Any]]:
    blocks = []
    for panel in registry.panels(column):
        context = panel.context(actor=request.user, customer=customer)
        if context is None:
            continue
        # The panel's template gets its own context; this page draws the card and title.
        html = render_to_string(panel.template, {"customer": customer, **context}, request)
        blocks.append({"panel": panel, "html": html})
    return blocks


def _metric_cards(request: AuthedRequest, customer: Customer) -> list[dict[str, Any]]:
    """The value cards that installed apps fill; a metric with nothing to show has none."""
    cards = []
    for metric in registry.customer_metrics():
        value = metric.value(actor=request.user, customer=customer)
        if value is not None:
            cards.append({"metric": metric, "value": value})
    return cards


@login_required
def customer_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    try:
        customer = selectors.customer_detail(actor=request.user, pk=pk)
    except Customer.DoesNotExist as exc:
        # A bookmark or a link in an old e-mail to a record merged away: its survivor.
        survivor = selectors.merged_survivor_id(actor=request.user, pk=pk)
        if survivor is None:
            raise Http404 from exc
        messages.info(request, f"Record #{pk} was merged into this one.")
        return redirect("customers:detail", pk=survivor)
    defs = list(selectors.custom_field_definitions())
    context = {
        "customer": customer,
        "facts": _facts(customer, defs),
        "relationships": selectors.relationships_of(customer),
        "consents": selectors.consents_in_force(customer=customer),
        "consent_history": selectors.consent_history(customer=customer),
        "can_edit": can(request.user, "edit", customer),
        "can_delete": can(request.user, "delete", customer),
        "can_export": can(request.user, "export", customer),
        "quality_issues": quality.describe(customer.quality_issues),
        "note_form": NoteForm(),
        "consent_form": ConsentForm(),
        "relationship_form": RelationshipForm(),
        "affiliation_form": AffiliationForm(),
        "metrics": _metric_cards(request, customer),
        "main_panels": _panel_blocks(request, customer, "main"),
        "side_panels": _panel_blocks(request, customer, "side"),
        **_timeline_context(request, customer),
    }
    return render(request, "customers/detail.html", context)


@login_required
def customer_timeline(request: AuthedRequest, pk: int) -> HttpResponse:
    """The filtered timeline or its next page (infinite scroll), as a fragment.

    The filter form itself is never re-rendered: swapping it out from under the checkbox
    the user just toggled would lose their focus and their place.
    """
    customer = _visible_customer(request, pk)
    context = _timeline_context(request, customer)
    if request.GET.get("cursor"):
        return render(request, "customers/_timeline_page.html", context)
    return render(request, "customers/_timeline_results.html", {**context, "oob": True})


@login_required
@require_POST
def note_add(request: AuthedRequest, pk: int) -> HttpResponse:
    customer = _visible_customer(request, pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            note = services.note_add(
                actor=request.user, customer=customer, body=form.cleaned_data["body"]
            )
        except ValidationError as exc:
            form.add_error("body", exc.messages)
        else:
            if request.htmx:
                response = render(
                    request,
                    "customers/_timeline_item.html",
                    {"entry": note, "customer": customer, "fresh": True},
                )
                response["HX-Trigger"] = "note-added"
                return response
            messages.success(request, "Note added.")
            return redirect(customer.get_absolute_url())
    if request.htmx:
        response = render(
            request, "customers/_note_form.html", {"note_form": form, "customer": customer}
        )
        response["HX-Retarget"] = "#note-form"
        response["HX-Reswap"] = "outerHTML"
        return response
    messages.error(request, " ".join(str(m) for ms in form.errors.values() for m in ms))
    return redirect(customer.get_absolute_url())


def _inline_form(customer: Customer, name: str, data: Any = None) -> Any:
    """A one-field form for the inline editor of `name`."""
    from django import forms

    if name.startswith("cf_"):
        definition = custom_definitions(CUSTOMER_TYPE).get(name[3:])
        if definition is None:
            raise Http404
        field = custom_form_field(definition)
        initial = custom_initial(definition, customer.custom_fields.get(definition.key))
        label = definition.label
    elif name in INLINE_FIELDS:
        label = INLINE_FIELDS[name]
        if name == "lifecycle_stage":
            field = forms.ChoiceField(choices=LifecycleStage.choices)
        elif name == "birth_date":
            field = forms.CharField(required=False, widget=DateInput())
        else:
            field = forms.CharField(required=False, max_length=300)
        if name == "tags":
            initial = ", ".join(t.name for t in customer.tags.all())
        elif name == "birth_date":
            initial = customer.birth_date.isoformat() if customer.birth_date else ""
        else:
            initial = getattr(customer, name)
    else:
        raise Http404
    field.label = label
    form = forms.Form(data)
    form.fields["value"] = field
    form.initial = {"value": initial}
    return form


@login_required
@require_http_methods(["GET", "POST"])
def inline_edit(request: AuthedRequest, pk: int, name: str) -> HttpResponse:
    """Edit one field in place. The form carries the version it was read at; a stale save
    is refused and shows the current value instead of silently overwriting it."""
    customer = _visible_customer(request, pk)
    defs = list(selectors.custom_field_definitions())
    if request.method == "GET":
        if request.GET.get("cancel"):
            fact = next((f for f in _facts(customer, defs) if f["name"] == name), None)
            if name == "tags":
                return render(
                    request,
                    "customers/_tags.html",
                    {"customer": customer, "can_edit": can(request.user, "edit", customer)},
                )
            if fact is None:
                raise Http404
            return render(
                request,
                "customers/_fact.html",
                {
                    "fact": fact,
                    "customer": customer,
                    "can_edit": can(request.user, "edit", customer),
                },
            )
        if not can(request.user, "edit", customer):
            raise PermissionDenied("You may not edit this customer.")
        form = _inline_form(customer, name)
        return render(
            request,
            "customers/_inline_form.html",
            {"form": form, "name": name, "customer": customer, "version": customer.version},
        )
    form = _inline_form(customer, name, request.POST)
    version = request.POST.get("version", "")
    conflict = None
    if form.is_valid():
        value = form.cleaned_data["value"]
        data = services.CustomerInput()
        if name.startswith("cf_"):
            definition = custom_definitions(CUSTOMER_TYPE)[name[3:]]
            data.custom_fields = {definition.key: custom_value(definition, value)}
        elif name == "tags":
            data.tags = [t for t in str(value).split(",") if t.strip()]
        elif value in ("", None):
            data.cleared.add(name)
        else:
            setattr(data, name, value)
        try:
            customer = services.customer_update(
                actor=request.user,
                customer=customer,
                data=data,
                expected_version=int(version) if version.isdigit() else -1,
            )
        except ValidationError as exc:
            messages_ = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
            form.add_error("value", [m for ms in messages_.values() for m in ms])
        except Conflict as exc:
            conflict = exc.message
            customer = _visible_customer(request, pk)
            form = _inline_form(customer, name)
        else:
            if not request.htmx:  # a plain form post (no JavaScript): back to the page
                messages.success(request, f"{form.fields['value'].label} saved.")
                return redirect(customer.get_absolute_url())
            customer = _visible_customer(request, pk)
            response = _render_fact(request, customer, name)
            response["HX-Trigger"] = "customer-changed"
            return response
    status = 409 if conflict else 400
    response = render(
        request,
        "customers/_inline_form.html",
        {
            "form": form,
            "name": name,
            "customer": customer,
            "version": customer.version,
            "conflict": conflict,
        },
        status=status,
    )
    return response


def _render_fact(request: AuthedRequest, customer: Customer, name: str) -> HttpResponse:
    if name == "tags":
        return render(request, "customers/_tags.html", {"customer": customer, "can_edit": True})
    fact = next(
        f for f in _facts(customer, list(selectors.custom_field_definitions())) if f["name"] == name
    )
    return render(
        request,
        "customers/_fact.html",
        {"fact": fact, "customer": customer, "can_edit": True, "saved": True},
    )


@login_required
@require_POST
def consent_add(request: AuthedRequest, pk: int) -> HttpResponse:
    customer = _visible_customer(request, pk)
    form = ConsentForm(request.POST)
    if form.is_valid():
        try:
            services.consent_record(
                actor=request.user,
                customer=customer,
                evidence="entered by staff",
                **form.cleaned_data,
            )
            messages.success(request, "Consent recorded.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, "Fill in channel, purpose, status and how it was given.")
    return redirect(customer.get_absolute_url() + "#consent")


def _find_customer(request: AuthedRequest, reference: str) -> Customer | None:
    reference = reference.strip().lstrip("#")
    qs = selectors.customer_list(actor=request.user)
    if reference.isdigit():
        found = qs.filter(pk=int(reference)).first()
        if found:
            return found
    return qs.filter(external_id=reference).first() if reference else None


@login_required
@require_POST
def relationship_add(request: AuthedRequest, pk: int) -> HttpResponse:
    customer = _visible_customer(request, pk)
    form = RelationshipForm(request.POST)
    if form.is_valid():
        other = _find_customer(request, form.cleaned_data["other"])
        if other is None:
            messages.error(request, "No customer you can see has that number or external id.")
        else:
            try:
                services.relationship_create(
                    actor=request.user,
                    from_customer=customer,
                    to_customer=other,
                    kind=form.cleaned_data["kind"],
                    note=form.cleaned_data["note"],
                )
                messages.success(request, f"Linked to {other.display_name}.")
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, "Choose the relationship and the other customer.")
    return redirect(customer.get_absolute_url() + "#relationships")


@login_required
@require_POST
def relationship_remove(request: AuthedRequest, pk: int, rel_id: int) -> HttpResponse:
    customer = _visible_customer(request, pk)
    rel = (
        Relationship.objects.filter(pk=rel_id)
        .filter(Q(from_customer=customer) | Q(to_customer=customer))
        .select_related("from_customer", "to_customer")
        .first()
    )
    if rel is None:
        raise Http404
    services.relationship_delete(actor=request.user, relationship=rel)
    messages.success(request, "Relationship removed.")
    return redirect(customer.get_absolute_url() + "#relationships")


@login_required
@require_POST
def affiliation_add(request: AuthedRequest, pk: int) -> HttpResponse:
    customer = _visible_customer(request, pk)
    form = AffiliationForm(request.POST)
    if form.is_valid():
        org = _find_customer(request, form.cleaned_data["organization"])
        if org is None:
            messages.error(request, "No organization you can see has that number or external id.")
        else:
            try:
                services.affiliation_create(
                    actor=request.user,
                    person=customer,
                    organization=org,
                    title=form.cleaned_data["title"],
                )
                messages.success(request, f"Linked to {org.display_name}.")
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
    return redirect(customer.get_absolute_url() + "#relationships")


@login_required
@require_POST
def affiliation_remove(request: AuthedRequest, pk: int, aff_id: int) -> HttpResponse:
    customer = _visible_customer(request, pk)
    aff = Affiliation.objects.filter(pk=aff_id, person=customer).select_related("person").first()
    if aff is None:
        raise Http404
    services.affiliation_delete(actor=request.user, affiliation=aff)
    messages.success(request, "Removed the link to the organization.")
    return redirect(customer.get_absolute_url() + "#relationships")


@login_required
@require_POST
def gdpr_export(request: AuthedRequest, pk: int) -> HttpResponse:
    customer = _visible_customer(request, pk)
    job = services.customer_export_personal_data(actor=request.user, customer=customer)
    messages.success(
        request, "The data archive is being prepared. Download it from this page when it is ready."
    )
    return redirect("core:job_detail", job_id=job.pk)


@login_required
@require_http_methods(["GET", "POST"])
def gdpr_erase(request: AuthedRequest, pk: int) -> HttpResponse:
    customer = _visible_customer(request, pk)
    if not can(request.user, "delete", customer):
        raise PermissionDenied("You may not erase this customer.")
    if customer.kind != CustomerKind.PERSON:
        raise Http404("Only a person's data can be erased.")
    error = None
    if request.method == "POST":
        if request.POST.get("confirm", "").strip() != "ERASE":
            error = "Type ERASE in capitals to confirm."
        else:
            try:
                services.customer_erase(actor=request.user, customer=customer)
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                messages.success(request, "The person's personal data was erased.")
                return redirect("customers:detail", pk=pk)
    return render(
        request,
        "customers/erase.html",
        {"customer": customer, "error": error},
        status=400 if error else 200,
    )


# --- Custom fields (administrators) ----------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def custom_fields(request: AuthedRequest) -> HttpResponse:
    if not request.user.is_admin:
        raise PermissionDenied("Only administrators may define custom fields.")
    form = CustomFieldForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            definition = services.custom_field_define(
                actor=request.user,
                key=data["key"],
                label=data["label"],
                field_type=data["field_type"],
                choices=[c for c in data["choices"].splitlines() if c.strip()],
                required=data["required"],
                help_text=data["help_text"],
                position=selectors.custom_field_definitions(include_inactive=True).count() + 1,
            )
        except ValidationError as exc:
            for key, msgs in exc.message_dict.items():
                form.add_error(key if key in form.fields else None, msgs)
        else:
            messages.success(request, f"Added the field “{definition.label}”.")
            return redirect("customers:custom_fields")
    return render(
        request,
        "customers/custom_fields.html",
        {"form": form, "definitions": selectors.custom_field_definitions(include_inactive=True)},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def custom_field_toggle(request: AuthedRequest, pk: int) -> HttpResponse:
    if not request.user.is_admin:
        raise PermissionDenied("Only administrators may define custom fields.")
    definition = CustomFieldDefinition.objects.filter(pk=pk).first()
    if definition is None:
        raise Http404
    if definition.is_active:
        services.custom_field_deactivate(actor=request.user, definition=definition)
        messages.success(request, f"“{definition.label}” is hidden; stored values are kept.")
    else:
        services.custom_field_update(actor=request.user, definition=definition, is_active=True)
        messages.success(request, f"“{definition.label}” is active again.")
    return redirect("customers:custom_fields")


CONSENT_LABELS = {
    "channels": dict(ConsentChannel.choices),
    "purposes": dict(ConsentPurpose.choices),
}
