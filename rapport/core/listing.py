"""Generic list pages: whitelisted sortable headers, keyset pages, a page-size choice,
filters declared as a form, an export link, an empty state that says what to do, and the
htmx fragment that re-renders only the results.

A page is a subclass of `ListPage` that declares its columns, sorts and filter form and
implements `read` with one selector call; `as_view()` makes the Django view. The class adds
no database query of its own, so a page's query count is its selector's and its
template's (each page pins it in a test at a few rows and at many).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import models
from django.http import HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from rapport.core.http import AuthedRequest
from rapport.core.pagination import Page, SortKey, first_page_url, next_page_url
from rapport.core.params import parse_int_param
from rapport.core.permissions import can

# Query parameters that steer the list rather than narrow it.
CONTROL_PARAMS = frozenset({"sort", "cursor", "page_size"})


@dataclass(frozen=True)
class Column:
    """A table column: `sort` names an entry of the page's sort whitelist (None: fixed)."""

    label: str
    key: str = ""
    sort: str | None = None
    numeric: bool = False


@dataclass(frozen=True)
class Header:
    """A column header as the template draws it: a link that toggles the sort, or text."""

    label: str
    column: str
    url: str | None
    state: str  # "ascending", "descending" or "" (the value of aria-sort)
    numeric: bool = False


@dataclass(frozen=True)
class EmptyState:
    """What an empty list says, and the one action that fills it (when the user may)."""

    icon: str
    title: str
    text: str
    action_url: str = ""
    action_label: str = ""


@dataclass
class Listing:
    """Everything the generic list templates need; pages add their own context beside it."""

    page: Page[Any] | None
    headers: list[Header]
    error: str
    filtered: bool
    empty: EmptyState
    sort: str
    page_size: int
    page_sizes: tuple[int, ...]
    query_string: str
    next_url: str | None
    first_url: str | None
    export_url: str | None
    htmx_target: str


def sort_headers(
    columns: Sequence[Column],
    *,
    params: QueryDict,
    sort: str,
    default: str = "",
    drop: Sequence[str] = (),
) -> list[Header]:
    """Headers whose links keep the filters, restart at the first page and toggle the sort:
    a click on the current column flips its direction, on another sorts it ascending.
    The default sort is left out of the link (the URL a user would type)."""
    base = params.copy()
    for name in ("cursor", *drop):
        base.pop(name, None)
    current, descending = sort.lstrip("-"), sort.startswith("-")
    headers = []
    for column in columns:
        if column.sort is None:
            headers.append(Header(column.label, column.key, None, "", column.numeric))
            continue
        active = column.sort == current
        toggled = base.copy()
        toggled["sort"] = f"-{column.sort}" if active and not descending else column.sort
        if toggled["sort"] == default:
            del toggled["sort"]
        state = ("descending" if descending else "ascending") if active else ""
        headers.append(
            Header(column.label, column.key, "?" + toggled.urlencode(), state, column.numeric)
        )
    return headers


def form_errors(form: forms.Form) -> str:
    """A filter form's errors as one line: a bad filter is said, not silently dropped
    (the list would look filtered)."""
    return " ".join(f"{name}: {m}" for name, msgs in form.errors.items() for m in msgs)


def validation_text(exc: ValidationError, sep: str = " ") -> str:
    return sep.join(
        m for msgs in getattr(exc, "message_dict", {"": exc.messages}).values() for m in msgs
    )


class ListPage:
    """One list page. Subclasses set the class attributes and implement `read`."""

    model: ClassVar[type[models.Model]]
    template: ClassVar[str]
    # The fragment an htmx request gets (filters, table, pager); None: always the page.
    results_template: ClassVar[str | None] = None
    htmx_target: ClassVar[str] = "list-results"
    columns: ClassVar[Sequence[Column]] = ()
    sorts: ClassVar[Mapping[str, SortKey]] = {}
    default_sort: ClassVar[str] = "id"
    page_sizes: ClassVar[tuple[int, ...]] = (50,)
    default_page_size: ClassVar[int | None] = None  # None: the first of page_sizes
    filter_form: ClassVar[type[forms.Form] | None] = None
    # Parameters dropped from header links (a saved view's id: a re-sort is a new view).
    header_drops: ClassVar[tuple[str, ...]] = ()
    # A bad sort, cursor or filter the selector refuses: "first_page" says why above the
    # first page (a stale bookmark still shows rows), "error" says why with no rows (400).
    on_bad_request: ClassVar[str] = "first_page"
    empty: ClassVar[EmptyState]
    empty_filtered: ClassVar[EmptyState]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A header that sorts by something the selector refuses would be a 400 on click.
        unknown = [c.sort for c in cls.columns if c.sort and cls.sorts and c.sort not in cls.sorts]
        if unknown:
            raise ImproperlyConfigured(f"{cls.__name__}: sorts not whitelisted: {unknown}")

    def __init__(self, request: AuthedRequest) -> None:
        self.request = request

    @classmethod
    def as_view(cls) -> Callable[..., HttpResponse]:
        def view(request: AuthedRequest) -> HttpResponse:
            return cls(request).get()

        view.__name__ = view.__qualname__ = cls.__name__
        view.__doc__ = cls.__doc__
        return login_required(view)

    # --- hooks -------------------------------------------------------------------------

    def check_access(self) -> None:
        if not can(self.request.user, "view", self.model):
            raise PermissionDenied("Your role does not include this page.")

    def params(self) -> QueryDict:
        return self.request.GET.copy()

    def make_form(self, params: QueryDict) -> forms.Form | None:
        return self.filter_form(params or None) if self.filter_form else None

    def filters(self, params: QueryDict, form: forms.Form | None) -> dict[str, Any]:
        """The filters the selector gets: the valid form's data (a bad filter is said)."""
        return form.cleaned_data if form is not None and form.is_valid() else {}

    def visible_columns(self) -> Sequence[Column]:
        return self.columns

    def read(self, *, data: dict[str, Any], sort: str, cursor: str | None, limit: int) -> Page[Any]:
        """One page from the selector, already narrowed to what the user may see."""
        raise NotImplementedError

    def sort_default(self, data: dict[str, Any], params: QueryDict) -> str:
        """The sort when none is asked for (a search's default is its relevance)."""
        return self.default_sort

    def is_filtered(self, data: dict[str, Any], params: QueryDict) -> bool:
        return any(v for k, v in data.items() if k not in CONTROL_PARAMS)

    def export_url(self, data: dict[str, Any], params: QueryDict) -> str | None:
        return None

    def empty_state(self, filtered: bool) -> EmptyState:
        return self.empty_filtered if filtered else self.empty

    def extra_context(self, listing: Listing, data: dict[str, Any]) -> dict[str, Any]:
        return {}

    # --- the request -------------------------------------------------------------------

    def page_size(self, params: QueryDict) -> int:
        default = self.default_page_size or self.page_sizes[0]
        try:
            size = parse_int_param("page_size", params.get("page_size") or default)
        except ValidationError:
            return default
        return size if size in self.page_sizes else default

    def get(self) -> HttpResponse:
        self.check_access()
        self.query = params = self.params()
        form = self.make_form(params)
        data = self.filters(params, form)
        error = form_errors(form) if form is not None else ""
        default = self.sort_default(data, params)
        sort = params.get("sort") or data.get("sort") or default
        size = self.page_size(params)
        page: Page[Any] | None
        status = 200
        try:
            page = self.read(data=data, sort=sort, cursor=params.get("cursor"), limit=size)
        except ValidationError as exc:
            if self.on_bad_request == "error":
                error, page, status = validation_text(exc, "; "), None, 400
            else:
                error = error or validation_text(exc)
                sort = default
                try:
                    page = self.read(data=data, sort=sort, cursor=None, limit=size)
                except ValidationError:  # the filters themselves: show everything
                    page = self.read(data={}, sort=sort, cursor=None, limit=size)
        filtered = self.is_filtered(data, params)
        base = params.copy()
        base.pop("cursor", None)
        listing = Listing(
            page=page,
            headers=sort_headers(
                self.visible_columns(),
                params=params,
                sort=sort,
                default=default,
                drop=self.header_drops,
            ),
            error=error,
            filtered=filtered,
            empty=self.empty_state(filtered),
            sort=sort,
            page_size=size,
            page_sizes=self.page_sizes,
            query_string=base.urlencode(),
            next_url=next_page_url(params, page.next_cursor if page else None),
            first_url=first_page_url(params),
            export_url=self.export_url(data, params),
            htmx_target=self.htmx_target if self.results_template else "",
        )
        context = {
            "listing": listing,
            "page": page,
            "form": form,
            "error": error,
            "filtered": filtered,
            **self.extra_context(listing, data),
        }
        template = self.template
        htmx = getattr(self.request, "htmx", None)
        if self.results_template and htmx and htmx.target == self.htmx_target:
            template = self.results_template
        response = render(self.request, template, context, status=status)
        if self.results_template:
            # The same URL answers with a page or a fragment: caches must keep both apart.
            patch_vary_headers(response, ("HX-Request", "HX-Target"))
        return response
