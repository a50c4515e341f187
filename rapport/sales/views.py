"""Sales pages: leads (list, detail with likely matches, convert, disqualify), deals (list,
detail, move, win, lose), the kanban board per pipeline and the pipeline settings. Thin:
lists and detail pages are declarations on core's generic pages; actions parse, call one
service and render."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.core.errors import Conflict
from rapport.core.http import AuthedRequest
from rapport.core.listing import Column, EmptyState, Listing, ListPage
from rapport.core.object_pages import DetailPage, FormPage, apply_errors, posted_version
from rapport.core.pagination import Page
from rapport.core.permissions import can, require
from rapport.customers import selectors as customer_selectors
from rapport.identity import selectors as identity_selectors
from rapport.sales import selectors, services
from rapport.sales.forms import (
    BoardFilterForm,
    ConvertForm,
    DealFilterForm,
    DealForm,
    DisqualifyForm,
    LeadFilterForm,
    LeadForm,
    LoseForm,
    MoveForm,
    PipelineForm,
    StageForm,
)
from rapport.sales.models import Deal, Lead, Pipeline

PAGE_SIZES = (50,)


def _text_of(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        first = exc.message_dict.get("stage_id") or exc.message_dict.get("__all__")
        if first:
            return " ".join(first)
    return " ".join(exc.messages)


# --- Leads --------------------------------------------------------------------------------


class LeadList(ListPage):
    model = Lead
    template = "sales/lead_list.html"
    results_template = "sales/_lead_results.html"
    filter_form = LeadFilterForm
    sorts = selectors.LEAD_SORTS
    default_sort = "-created"
    page_sizes = PAGE_SIZES
    columns = (
        Column("Lead"),
        Column("Organization"),
        Column("Source"),
        Column("Status"),
        Column("Score", sort="score", numeric=True),
        Column("Owner"),
        Column("Created", sort="created"),
    )
    empty = EmptyState(
        icon="list",
        title="No leads yet",
        text="Leads arrive from the API (POST /api/v1/leads) or are added by hand. A second "
        "form from the same person updates the open lead rather than making another.",
        action_url="/sales/leads/new/",
        action_label="Add a lead",
    )
    empty_filtered = EmptyState(
        icon="search",
        title="No lead matches",
        text="Search by the start of a name or organization, or an exact e-mail; or clear "
        "the filters.",
        action_url="/sales/leads/",
        action_label="Clear filters",
    )

    def read(
        self, *, data: dict[str, Any], sort: str, cursor: str | None, limit: int
    ) -> Page[Lead]:
        filters = selectors.LeadFilters(
            q=data.get("q") or None,
            status=data.get("status") or None,
            source=data.get("source") or None,
        )
        return selectors.lead_page(
            actor=self.request.user, filters=filters, sort=sort, cursor=cursor, limit=limit
        )

    def extra_context(self, listing: Listing, data: dict[str, Any]) -> dict[str, Any]:
        return {"may_create": can(self.request.user, "create", Lead)}


lead_list = LeadList.as_view()


class LeadDetail(DetailPage):
    template = "sales/lead_detail.html"
    context_name = "lead"

    def load(self, pk: int) -> Lead:
        return selectors.lead_detail(actor=self.request.user, pk=pk)

    def extra_context(self, lead: Lead, /, **forms: Any) -> dict[str, Any]:
        user = self.request.user
        matches = selectors.lead_matches(actor=user, lead=lead)
        convert_form = forms.get("convert_form") or ConvertForm(
            initial={"create_deal": True, "deal_name": lead.organization_name or lead.name}
        )
        return {
            "matches": matches,
            "may_edit": lead.is_open and can(user, "edit", lead),
            "convert_form": convert_form,
            "disqualify_form": forms.get("disqualify_form") or DisqualifyForm(),
        }


lead_detail = LeadDetail.as_view()


class LeadFormPage(FormPage):
    form_class = LeadForm
    template = "sales/lead_form.html"
    model = Lead
    context_name = "lead"
    invalid_status = 422
    denied_create = "Your role may not add leads."
    denied_edit = "You may not change this lead."

    def load(self, pk: int) -> Lead:
        return selectors.lead_detail(actor=self.request.user, pk=pk)

    def initial(self, lead: Lead) -> dict[str, Any]:
        names = (
            "first_name",
            "last_name",
            "email",
            "phone",
            "organization_name",
            "title",
            "country",
            "source",
            "status",
            "score",
            "message",
        )
        return {n: getattr(lead, n) for n in names}

    def save(self, form: Any, lead: Any, *, expected_version: int | None) -> Lead:
        data = services.LeadInput(**form.cleaned_data)
        if lead is None:
            return services.lead_create(actor=self.request.user, data=data)
        return services.lead_update(
            actor=self.request.user, lead=lead, data=data, expected_version=expected_version
        )

    def success_message(self, obj: Any, *, created: bool) -> str:
        if created and obj.touches > 1:
            return f"{obj.name} already had an open lead: it was updated, not duplicated."
        return "Lead added." if created else "Lead saved."


lead_create = LeadFormPage.as_view()
lead_edit = LeadFormPage.as_view()


def _render_lead(request: AuthedRequest, pk: int, **forms: Any) -> HttpResponse:
    page = LeadDetail(request)
    return page.render(page.load(pk), status=422, **forms)


@login_required
@require_POST
def lead_convert(request: AuthedRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_detail(actor=request.user, pk=pk)
    form = ConvertForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            customer = None
            if data.get("customer"):
                customer = (
                    customer_selectors.customer_list(actor=request.user)
                    .filter(pk=data["customer"])
                    .first()
                )
                if customer is None:
                    raise ValidationError({"customer": "No such customer that you may see."})
            result = services.lead_convert(
                actor=request.user,
                lead=lead,
                customer=customer,
                create_deal=bool(data.get("create_deal")),
                deal=services.DealInput(
                    name=data.get("deal_name") or None,
                    amount=data["amount"] if data.get("amount") is not None else None,
                ),
                expected_version=posted_version(request),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        except (Conflict, PermissionDenied) as exc:
            form.add_error(None, getattr(exc, "message", str(exc)))
        else:
            merged = "merged into" if result.merged else "converted to"
            messages.success(request, f"{lead.name} {merged} {result.person.display_name}.")
            return redirect(result.deal or result.person)
    return _render_lead(request, pk, convert_form=form)


@login_required
@require_POST
def lead_disqualify(request: AuthedRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_detail(actor=request.user, pk=pk)
    form = DisqualifyForm(request.POST)
    if form.is_valid():
        try:
            services.lead_disqualify(
                actor=request.user,
                lead=lead,
                reason=form.cleaned_data["reason"],
                expected_version=posted_version(request),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"{lead.name} disqualified.")
            return redirect(lead)
    return _render_lead(request, pk, disqualify_form=form)


# --- Deals --------------------------------------------------------------------------------


def _deal_filters(data: dict[str, Any]) -> selectors.DealFilters:
    return selectors.DealFilters(
        q=data.get("q") or None,
        status=data.get("status") or None,
        pipeline_id=data.get("pipeline"),
        stage_id=data.get("stage"),
        customer_id=data.get("customer"),
        owner_id=data.get("owner"),
        team_id=data.get("team"),
        close_month=data.get("close_month") or None,
    )


class DealList(ListPage):
    model = Deal
    template = "sales/deal_list.html"
    results_template = "sales/_deal_results.html"
    filter_form = DealFilterForm
    sorts = selectors.DEAL_SORTS
    default_sort = "-created"
    page_sizes = PAGE_SIZES
    columns = (
        Column("Deal"),
        Column("Customer"),
        Column("Stage"),
        Column("Amount", sort="amount", numeric=True),
        Column("Closes", sort="close"),
        Column("Owner"),
    )
    empty = EmptyState(
        icon="trending-up",
        title="No deals yet",
        text="Deals come from converted leads, from a customer's page, or the API "
        "(POST /api/v1/deals).",
    )
    empty_filtered = EmptyState(
        icon="search",
        title="No deal matches",
        text="Try another owner, team or month, or clear the filters.",
        action_url="/sales/deals/",
        action_label="Clear filters",
    )

    def make_form(self, params: QueryDict) -> DealFilterForm:
        owners, teams = identity_selectors.assignee_choices()
        return DealFilterForm(params or None, owners=owners, teams=teams)

    def read(
        self, *, data: dict[str, Any], sort: str, cursor: str | None, limit: int
    ) -> Page[Deal]:
        return selectors.deal_page(
            actor=self.request.user,
            filters=_deal_filters(data),
            sort=sort,
            cursor=cursor,
            limit=limit,
        )


deal_list = DealList.as_view()


class DealDetail(DetailPage):
    template = "sales/deal_detail.html"
    context_name = "deal"

    def load(self, pk: int) -> Deal:
        return selectors.deal_detail(actor=self.request.user, pk=pk)

    def extra_context(self, deal: Deal, /, **forms: Any) -> dict[str, Any]:
        return {
            "history": selectors.deal_history(actor=self.request.user, deal=deal),
            "stages": list(deal.pipeline.stages.order_by("position", "id")),
            "may_edit": can(self.request.user, "edit", deal),
            "lose_form": forms.get("lose_form") or LoseForm(),
            "move_error": forms.get("move_error", ""),
        }


deal_detail = DealDetail.as_view()


class DealFormPage(FormPage):
    """Open a deal for a customer (`?customer=`) or change one."""

    form_class = DealForm
    template = "sales/deal_form.html"
    model = Deal
    context_name = "deal"
    invalid_status = 422
    denied_create = "Your role may not open deals."
    denied_edit = "You may not change this deal."

    def load(self, pk: int) -> Deal:
        return selectors.deal_detail(actor=self.request.user, pk=pk)

    def make_form(self, obj: Any) -> DealForm:
        if self.request.method == "POST":
            return DealForm(self.request.POST)
        if obj is not None:
            return DealForm(initial=self.initial(obj))
        return DealForm(initial={"customer": self.request.GET.get("customer")})

    def initial(self, deal: Deal) -> dict[str, Any]:
        names = (
            "name",
            "amount",
            "currency",
            "expected_close_date",
            "probability",
            "next_step",
            "competitors",
        )
        return {n: getattr(deal, n) for n in names}

    def _customer(self, form: Any) -> Any:
        customer_id = form.cleaned_data.get("customer") or self.request.GET.get("customer")
        customer = (
            customer_selectors.customer_list(actor=self.request.user).filter(pk=customer_id).first()
            if customer_id
            else None
        )
        if customer is None:
            raise ValidationError({"customer": "Open the deal from a customer's page."})
        return customer

    def save(self, form: Any, deal: Any, *, expected_version: int | None) -> Deal:
        values = {k: v for k, v in form.cleaned_data.items() if k != "customer"}
        values = {k: (None if v in ("", None) else v) for k, v in values.items()}
        data = services.DealInput(**values)
        if deal is None:
            return services.deal_create(
                actor=self.request.user, customer=self._customer(form), data=data
            )
        return services.deal_update(
            actor=self.request.user, deal=deal, data=data, expected_version=expected_version
        )

    def extra_context(self, form: Any, obj: Any) -> dict[str, Any]:
        customer_id = self.request.GET.get("customer") or self.request.POST.get("customer")
        customer = None
        if obj is None and customer_id and str(customer_id).isdigit():
            customer = (
                customer_selectors.customer_list(actor=self.request.user)
                .filter(pk=int(customer_id))
                .first()
            )
        return {"customer": customer}

    def success_message(self, obj: Any, *, created: bool) -> str:
        return f"Deal {obj.name} opened in {obj.stage.name}." if created else "Deal saved."


deal_create = DealFormPage.as_view()
deal_edit = DealFormPage.as_view()


def _board_query(request: AuthedRequest) -> str:
    """The board's filters, carried through a move so the board comes back as it was."""
    keep = {k: request.POST.get(k) for k in ("owner", "team", "close_month") if request.POST.get(k)}
    return urlencode(keep)


@login_required
@require_POST
def deal_move(request: AuthedRequest, pk: int) -> HttpResponse:
    """Move a deal to a stage: from the board (drag and drop or the card's menu, htmx:
    the board comes back) or the deal page (a redirect)."""
    deal = selectors.deal_detail(actor=request.user, pk=pk)
    form = MoveForm(request.POST)
    htmx = getattr(request, "htmx", None)
    error = ""
    if not form.is_valid():
        error = "Choose a stage."
    else:
        try:
            stage = selectors.stage_detail(actor=request.user, pk=form.cleaned_data["stage"])
            services.deal_move_stage(
                actor=request.user,
                deal=deal,
                stage=stage,
                expected_version=posted_version(request),
            )
        except Http404:
            error = "That stage no longer exists."
        except ValidationError as exc:
            error = f"{deal.name} was not moved: {_text_of(exc)}"
        except (Conflict, PermissionDenied) as exc:
            error = f"{deal.name} was not moved: {getattr(exc, 'message', str(exc))}"
    if htmx and request.POST.get("from") == "board":
        query = QueryDict(_board_query(request))
        return _render_board(
            request, deal.pipeline, query, error=error, moved=deal.pk, status=422 if error else 200
        )
    if error:
        page = DealDetail(request)
        return page.render(page.load(pk), status=422, move_error=error)
    messages.success(request, "Deal moved.")
    if request.POST.get("from") == "board":
        kept = _board_query(request)
        return redirect(
            reverse("sales:board", args=[deal.pipeline_id]) + (f"?{kept}" if kept else "")
        )
    return redirect(deal)


@login_required
@require_POST
def deal_win(request: AuthedRequest, pk: int) -> HttpResponse:
    deal = selectors.deal_detail(actor=request.user, pk=pk)
    try:
        services.deal_win(actor=request.user, deal=deal, expected_version=posted_version(request))
    except (ValidationError, Conflict) as exc:
        text = exc.message if isinstance(exc, Conflict) else _text_of(exc)
        page = DealDetail(request)
        return page.render(page.load(pk), status=422, move_error=text)
    messages.success(request, f"{deal.name} won.")
    return redirect(deal)


@login_required
@require_POST
def deal_lose(request: AuthedRequest, pk: int) -> HttpResponse:
    deal = selectors.deal_detail(actor=request.user, pk=pk)
    form = LoseForm(request.POST)
    if form.is_valid():
        try:
            services.deal_lose(
                actor=request.user,
                deal=deal,
                reason=form.cleaned_data["reason"],
                expected_version=posted_version(request),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"{deal.name} lost.")
            return redirect(deal)
    page = DealDetail(request)
    return page.render(page.load(pk), status=422, lose_form=form)


# --- The board ----------------------------------------------------------------------------


def _render_board(
    request: AuthedRequest,
    pipeline: Pipeline,
    params: QueryDict,
    *,
    error: str = "",
    moved: int | None = None,
    status: int = 200,
) -> HttpResponse:
    owners, teams = identity_selectors.assignee_choices()
    form = BoardFilterForm(params or None, owners=owners, teams=teams)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    filters = _deal_filters(data)
    try:
        board = selectors.board(actor=request.user, pipeline=pipeline, filters=filters)
    except ValidationError as exc:
        error = error or _text_of(exc)
        board = selectors.board(actor=request.user, pipeline=pipeline)
    query = urlencode(
        {
            k: v
            for k, v in (
                ("owner", data.get("owner")),
                ("team", data.get("team")),
                ("close_month", data.get("close_month")),
            )
            if v
        }
    )
    context = {
        "board": board,
        "pipeline": pipeline,
        "pipelines": list(selectors.pipeline_list(actor=request.user)),
        "form": form,
        "error": error,
        "moved": moved,
        "query": query,
        "filters": data,
        "may_move": can(request.user, "edit", Deal),
        "may_configure": can(request.user, "edit", Pipeline),
        # Cards link by concatenation: 300 cards, 600 fewer `reverse()` calls.
        "deal_base": reverse("sales:deal_list"),
    }
    htmx = getattr(request, "htmx", None)
    template = "sales/_board.html" if htmx and htmx.target == "board" else "sales/board.html"
    return render(request, template, context, status=status)


@login_required
def board(request: AuthedRequest, pk: int | None = None) -> HttpResponse:
    if not can(request.user, "view", Deal):
        raise PermissionDenied("Your role does not include deals.")
    pipeline = selectors.board_pipeline(actor=request.user, pk=pk)
    return _render_board(request, pipeline, request.GET)


# --- Pipeline settings --------------------------------------------------------------------


def _pipeline_page(
    request: AuthedRequest, pipeline: Pipeline | None, *, status: int = 200, **forms: Any
) -> HttpResponse:
    pipelines = list(selectors.pipeline_list(actor=request.user))
    stages = list(pipeline.stages.order_by("position", "id")) if pipeline else []
    rows = [
        (
            s,
            StageForm(
                initial={
                    "name": s.name,
                    "probability": s.probability,
                    "required_fields": s.required_fields,
                    "notify_owner": s.notify_owner,
                },
                prefix=f"s{s.pk}",
            ),
        )
        for s in stages
    ]
    if forms.get("stage_form") is not None and forms.get("stage_pk"):
        rows = [(s, forms["stage_form"] if s.pk == forms["stage_pk"] else f) for s, f in rows]
    return render(
        request,
        "sales/pipeline_settings.html",
        {
            "pipeline": pipeline,
            "pipelines": pipelines,
            "rows": rows,
            "new_stage_form": forms.get("new_stage_form") or StageForm(prefix="new"),
            "pipeline_form": forms.get("pipeline_form") or PipelineForm(),
            "may_configure": can(request.user, "edit", Pipeline),
        },
        status=status,
    )


@login_required
def pipeline_settings(request: AuthedRequest, pk: int | None = None) -> HttpResponse:
    if not can(request.user, "view", Pipeline):
        raise PermissionDenied("Your role does not include pipeline settings.")
    pipeline = (
        selectors.pipeline_detail(actor=request.user, pk=pk)
        if pk is not None
        else selectors.pipeline_list(actor=request.user).first()
    )
    return _pipeline_page(request, pipeline)


@login_required
@require_POST
def pipeline_add(request: AuthedRequest) -> HttpResponse:
    require(request.user, "create", Pipeline)
    form = PipelineForm(request.POST)
    if form.is_valid():
        try:
            pipeline = services.pipeline_create(
                actor=request.user, data=services.PipelineInput(**form.cleaned_data)
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Pipeline {pipeline.name} added: now give it stages.")
            return redirect("sales:pipeline_settings", pk=pipeline.pk)
    return _pipeline_page(
        request, selectors.pipeline_list(actor=request.user).first(), status=422, pipeline_form=form
    )


@login_required
@require_POST
def stage_add(request: AuthedRequest, pk: int) -> HttpResponse:
    pipeline = selectors.pipeline_detail(actor=request.user, pk=pk)
    form = StageForm(request.POST, prefix="new")
    if form.is_valid():
        try:
            services.stage_create(
                actor=request.user, pipeline=pipeline, data=services.StageInput(**form.cleaned_data)
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Stage added.")
            return redirect("sales:pipeline_settings", pk=pipeline.pk)
    return _pipeline_page(request, pipeline, status=422, new_stage_form=form)


@login_required
@require_POST
def stage_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    stage = selectors.stage_detail(actor=request.user, pk=pk)
    form = StageForm(request.POST, prefix=f"s{stage.pk}")
    if form.is_valid():
        try:
            services.stage_update(
                actor=request.user,
                stage=stage,
                data=services.StageInput(**form.cleaned_data),
                expected_version=posted_version(request),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        except (Conflict, PermissionDenied) as exc:
            form.add_error(None, getattr(exc, "message", str(exc)))
        else:
            messages.success(request, f"Stage {form.cleaned_data['name']} saved.")
            return redirect("sales:pipeline_settings", pk=stage.pipeline_id)
    return _pipeline_page(request, stage.pipeline, status=422, stage_form=form, stage_pk=stage.pk)
