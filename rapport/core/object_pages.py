"""Generic detail and form pages for one record.

`DetailPage` loads the record through a selector (which narrows to the user's record
scope, so a record outside it is a 404, never a 403 that confirms it exists) and renders
its panels. `FormPage` creates or edits a record through a service: field errors from the
service land beside their fields, and the record's `version` travels in a hidden field so
that an edit made meanwhile by someone else is a conflict, not a silent overwrite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from rapport.core.errors import Conflict
from rapport.core.http import AuthedRequest
from rapport.core.permissions import can


def apply_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's field errors on the form's fields (others on the form)."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, messages_ in exc.message_dict.items():
        form.add_error(name if name in form.fields else None, messages_)


def posted_version(request: HttpRequest) -> int | None:
    """The record version the form was rendered with (None: not sent, no check)."""
    raw = request.POST.get("version", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None


@dataclass(frozen=True)
class Panel:
    """A card on a detail page: a title and the template that fills it."""

    title: str
    template: str


class DetailPage:
    """One record's page. Subclasses set `template` and implement `load`."""

    template: ClassVar[str]
    context_name: ClassVar[str] = "object"
    panels: ClassVar[Sequence[Panel]] = ()

    def __init__(self, request: AuthedRequest) -> None:
        self.request = request

    @classmethod
    def as_view(cls) -> Callable[..., HttpResponse]:
        def view(request: AuthedRequest, pk: int) -> HttpResponse:
            return cls(request).get(pk)

        view.__name__ = view.__qualname__ = cls.__name__
        view.__doc__ = cls.__doc__
        return login_required(view)

    def load(self, pk: int) -> models.Model:
        """The record through its selector, scoped to the user."""
        raise NotImplementedError

    def extra_context(self, obj: Any, /, **extra: Any) -> dict[str, Any]:
        return extra

    def get(self, pk: int) -> HttpResponse:
        try:
            obj = self.load(pk)
        except ObjectDoesNotExist as exc:
            raise Http404("No such record, or you may not see it.") from exc
        return self.render(obj)

    def render(self, obj: Any, *, status: int = 200, **extra: Any) -> HttpResponse:
        """The page for `obj`; actions posted from it render it again with their form's
        errors in `extra` (and a 4xx status)."""
        context = {
            "object": obj,
            self.context_name: obj,
            "panels": self.panels,
            **self.extra_context(obj, **extra),
        }
        return render(self.request, self.template, context, status=status)


class FormPage:
    """A create (no pk) or edit (pk) form saved by one service call.

    Subclasses set `form_class`, `template`, `model` and implement `save` (and `load`,
    `initial` for edits)."""

    form_class: ClassVar[type[forms.Form]]
    template: ClassVar[str]
    model: ClassVar[type[models.Model]]
    context_name: ClassVar[str] = "object"
    # The status of a form shown again with errors; the existing pages keep theirs.
    invalid_status: ClassVar[int] = 200
    denied_create: ClassVar[str] = "Your role may not add these records."
    denied_edit: ClassVar[str] = "Your role may not change these records."

    def __init__(self, request: AuthedRequest) -> None:
        self.request = request

    @classmethod
    def as_view(cls) -> Callable[..., HttpResponse]:
        @require_http_methods(["GET", "POST"])
        def view(request: AuthedRequest, pk: int | None = None) -> HttpResponse:
            return cls(request).handle(pk)

        view.__name__ = view.__qualname__ = cls.__name__
        view.__doc__ = cls.__doc__
        return login_required(view)

    # --- hooks -------------------------------------------------------------------------

    def load(self, pk: int) -> models.Model:
        raise NotImplementedError

    def check_access(self, obj: models.Model | None) -> None:
        action = "create" if obj is None else "edit"
        if not can(self.request.user, action, self.model if obj is None else obj):
            raise PermissionDenied(self.denied_create if obj is None else self.denied_edit)

    def initial(self, obj: Any) -> dict[str, Any]:
        return {}

    def make_form(self, obj: Any) -> forms.Form:
        data = self.request.POST if self.request.method == "POST" else None
        return self.form_class(data, initial=self.initial(obj) if obj is not None else None)

    def save(self, form: Any, obj: Any, *, expected_version: int | None) -> models.Model:
        """Call the one service that creates or updates the record; return it."""
        raise NotImplementedError

    def success_message(self, obj: Any, *, created: bool) -> str:
        return "Saved."

    def success_url(self, obj: Any) -> str:
        return str(obj.get_absolute_url())

    def extra_context(self, form: forms.Form, obj: Any) -> dict[str, Any]:
        return {}

    # --- the request -------------------------------------------------------------------

    def handle(self, pk: int | None) -> HttpResponse:
        obj: models.Model | None = None
        if pk is not None:
            try:
                obj = self.load(pk)
            except ObjectDoesNotExist as exc:
                raise Http404("No such record, or you may not see it.") from exc
        self.check_access(obj)
        form = self.make_form(obj)
        status = 200
        if self.request.method == "POST":
            status = self.invalid_status
            if form.is_valid():
                try:
                    saved = self.save(form, obj, expected_version=posted_version(self.request))
                except ValidationError as exc:
                    apply_errors(form, exc)
                except Conflict as exc:
                    form.add_error(None, exc.message)
                else:
                    messages.success(self.request, self.success_message(saved, created=obj is None))
                    return redirect(self.success_url(saved))
        context = {"form": form, "object": obj, self.context_name: obj}
        context.update(self.extra_context(form, obj))
        return render(self.request, self.template, context, status=status)
