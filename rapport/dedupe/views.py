"""Duplicates pages: the review queue, the side-by-side compare with merge, undo, settings."""

from __future__ import annotations

import math
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseBadRequest
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from rapport.core.errors import Conflict
from rapport.core.http import AuthedRequest
from rapport.core.permissions import can
from rapport.core.redirects import safe_next
from rapport.customers import selectors as customer_selectors
from rapport.customers.selectors import CUSTOMER_TYPE, capped_count
from rapport.dedupe import selectors, services
from rapport.dedupe.models import (
    CustomerMerge,
    DedupeSettings,
    DuplicatePair,
    PairStatus,
    SurvivorshipRule,
)
from rapport.dedupe.services import merging
from rapport.identity import selectors as identity_selectors

SIDES = {"a", "b"}


def _float(value: str | None, default: float) -> float:
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        return default


def _whole(value: str | None) -> int:
    """A whole number from a form field; ValueError for anything else, including numbers
    past a 64-bit column, which the database would refuse with an error of its own."""
    number = int(value or "")
    if not 0 <= number < 2**63:
        raise ValueError(value)
    return number


def _version(value: str | None) -> int | None:
    """The version a compare page was rendered at; blank or 0 means "not checked"."""
    if not value or not value.strip():
        return None
    return _whole(value) or None


@login_required
def queue(request: AuthedRequest) -> HttpResponse:
    if not can(request.user, "view", CUSTOMER_TYPE):
        raise PermissionDenied
    min_probability = _float(request.GET.get("min"), 0.0)
    try:
        page = selectors.queue_page(
            actor=request.user,
            cursor=request.GET.get("cursor"),
            min_probability=min_probability,
        )
    except ValidationError as exc:
        return HttpResponseBadRequest(" ".join(exc.messages))
    context = {
        "page": page,
        "rows": [
            {"pair": pair, "why": evidence(pair.details), "percent": percent(pair.probability)}
            for pair in page.items
        ],
        "min_probability": min_probability,
        "thresholds": [
            (0.0, "Any"),
            (0.5, "50% or more"),
            (0.8, "80% or more"),
            (0.95, "95% or more"),
        ],
        "latest_run": services.latest_run(),
        "last_attempt": services.last_attempt(),
        # How many open pairs pass the filter: the queue's own count, not a run's.
        "open_count": capped_count(
            selectors.open_pairs(actor=request.user, min_probability=min_probability)
        ),
        "settings": DedupeSettings.current(),
        "rules": SurvivorshipRule.choices,
        "is_admin": getattr(request.user, "is_admin", False),
    }
    return render(request, "dedupe/queue.html", context)


def percent(probability: float) -> str:
    """A match probability as people read it, never rounded up to a certainty the model
    does not claim: whole percents (floored), a decimal from 99 % where pairs crowd,
    and "> 99.9%" rather than "100%" for anything short of 1 (0.99996, 0.999999)."""
    if probability >= 1.0:
        return "100%"
    if probability >= 0.999:
        return "> 99.9%"
    if probability >= 0.99:
        return f"{math.floor(probability * 1000) / 10:.1f}%"
    return f"{math.floor(probability * 100)}%"


def evidence(details: dict[str, Any]) -> list[dict[str, Any]]:
    """A pair's comparison levels as short chips: what agreed, what disagreed, strongest
    first (the full Splink wording is kept for the tooltip)."""
    chips = []
    for field, found in details.items():
        if isinstance(found, dict):
            level, weight = str(found.get("level", "")), float(found.get("weight") or 0.0)
        else:  # pairs stored before the weights were kept
            level, weight = str(found), 0.0
        if weight == 0.0 and "NULL" in level:
            continue
        chips.append(
            {
                "label": field.replace("_", " ").replace("address2", "address line 2").capitalize(),
                "level": level,
                "weight": weight,
                "tone": "agrees" if weight > 0 else "differs" if weight < 0 else "neutral",
            }
        )
    return sorted(chips, key=lambda c: -abs(c["weight"]))


def _compare_context(
    request: AuthedRequest, a: Any, b: Any, pair: DuplicatePair | None
) -> dict[str, Any]:
    keep = request.GET.get("keep") if request.GET.get("keep") in SIDES else "a"
    rule = request.GET.get("rule") or SurvivorshipRule.MOST_COMPLETE
    if rule not in SurvivorshipRule.values:
        rule = SurvivorshipRule.MOST_COMPLETE
    survivor, loser = (a, b) if keep == "a" else (b, a)
    plan = merging.plan_merge(survivor=survivor, loser=loser, rule=rule)
    custom_labels = {
        d.key: d.label for d in customer_selectors.custom_field_definitions(include_inactive=True)
    }
    rows = []
    for field in plan.fields:
        a_value = field.survivor_value if keep == "a" else field.loser_value
        b_value = field.loser_value if keep == "a" else field.survivor_value
        picked = keep if field.source == "survivor" else ({"a", "b"} - {keep}).pop()
        rows.append(
            {
                "name": field.name,
                "label": custom_labels.get(field.label, field.label)
                if field.name.startswith(merging.CUSTOM_PREFIX)
                else field.label,
                "a": _shown(field.name, a_value),
                "b": _shown(field.name, b_value),
                "differs": field.differs,
                "picked": picked,
            }
        )
    return {
        "pair": pair,
        "why": evidence(pair.details) if pair else [],
        "a": a,
        "b": b,
        "keep": keep,
        "rule": rule,
        "rules": SurvivorshipRule.choices,
        "rows": rows,
        "contacts": {
            "a": {
                "emails": list(a.emails.values_list("email", flat=True)),
                "phones": list(a.phones.values_list("e164", flat=True)),
                "addresses": [str(x) for x in a.addresses.all()],
                "tags": list(a.tags.values_list("name", flat=True)),
            },
            "b": {
                "emails": list(b.emails.values_list("email", flat=True)),
                "phones": list(b.phones.values_list("e164", flat=True)),
                "addresses": [str(x) for x in b.addresses.all()],
                "tags": list(b.tags.values_list("name", flat=True)),
            },
        },
        "moves": {"a": merging.related_counts(a), "b": merging.related_counts(b)},
        "can_merge": can(request.user, "edit", a) and can(request.user, "edit", b),
        "can_delete": {"a": can(request.user, "delete", a), "b": can(request.user, "delete", b)},
    }


def _shown(name: str, value: Any) -> str:
    if value in (None, ""):
        return ""
    if name in ("owner_id", "team_id"):
        return identity_selectors.assignee_name(field=name, pk=value) or f"#{value}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if not name.startswith(merging.CUSTOM_PREFIX):
        return str(customer_selectors.choice_label(name, value))
    return str(value)


@login_required
def compare_pair(request: AuthedRequest, pk: int) -> HttpResponse:
    pair = selectors.pair_for_review(actor=request.user, pk=pk)
    context = _compare_context(request, pair.customer_a, pair.customer_b, pair)
    if (
        pair.status != PairStatus.OPEN
        or pair.customer_a.merged_into_id
        or pair.customer_b.merged_into_id
    ):
        context["closed"] = True
    return render(request, "dedupe/compare.html", context)


@login_required
def compare_customers(request: AuthedRequest, pk: int, other: int) -> HttpResponse:
    """Compare any two records (from a 360 page's "Merge with…"), pair or no pair."""
    a = selectors.visible_customer(actor=request.user, pk=pk)
    b = selectors.visible_customer(actor=request.user, pk=other)
    if a.pk == b.pk:
        return HttpResponseBadRequest("Pick two different records.")
    return render(request, "dedupe/compare.html", _compare_context(request, a, b, None))


@login_required
@require_POST
def merge(request: AuthedRequest) -> HttpResponse:
    post = request.POST
    try:
        a = selectors.visible_customer(actor=request.user, pk=_whole(post.get("a")))
        b = selectors.visible_customer(actor=request.user, pk=_whole(post.get("b")))
    except ValueError:
        return HttpResponseBadRequest("Name the two records to merge.")
    keep = post.get("keep")
    if keep not in SIDES:
        return HttpResponseBadRequest("Choose the record to keep.")
    survivor, loser = (a, b) if keep == "a" else (b, a)
    choices = {}
    for name in [*merging.MERGED_FIELDS, *[k for k in post if k.startswith("pick_custom_fields.")]]:
        key = name.removeprefix("pick_")
        picked = post.get(f"pick_{key}")
        if picked in SIDES:
            choices[key] = "survivor" if picked == keep else "loser"
    try:
        versions = {side: _version(post.get(f"version_{side}")) for side in SIDES}
    except ValueError:
        return HttpResponseBadRequest("The record versions must be whole numbers.")
    # `back` comes from the form: only a path on this site is followed (no open redirect).
    back = safe_next(request, post.get("back"), reverse("dedupe:queue"))
    try:
        done = merging.customer_merge(
            actor=request.user,
            survivor=survivor,
            loser=loser,
            rule=post.get("rule") or SurvivorshipRule.MOST_COMPLETE,
            choices=choices,
            survivor_version=versions[keep],
            loser_version=versions[({"a", "b"} - {keep}).pop()],
        )
    except Conflict:
        messages.error(
            request, "One of the records changed while you were comparing. Review it again."
        )
        return redirect(back)
    except PermissionDenied as exc:
        messages.error(request, str(exc) or "You may not merge these records.")
        return redirect(back)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    moved = (
        ", ".join(f"{n} {label.lower()}" for label, n in done.summary.items())
        or "no linked records"
    )
    messages.success(request, _merged_message(request, done, loser, survivor, moved))
    return redirect(survivor.get_absolute_url())


def _merged_message(
    request: AuthedRequest, done: CustomerMerge, loser: Any, survivor: Any, moved: str
) -> str:
    """The success message with its Undo button right in it: the undo is where the reviewer
    is looking, not only in the panel further down the page. The form carries the CSRF
    token of this session (the message is shown on the very next page)."""
    return format_html(
        '{} <form method="post" action="{}" class="message-action">'
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
        '<button class="button small" type="submit" id="undo-merge">Undo</button></form>',
        f"Merged {loser.display_name} into {survivor.display_name} ({moved} moved).",
        reverse("dedupe:undo", args=[done.pk]),
        get_token(request),
    )


@login_required
@require_POST
def dismiss(request: AuthedRequest, pk: int) -> HttpResponse:
    pair = selectors.pair_for_review(actor=request.user, pk=pk)
    try:
        services.pair_decide(actor=request.user, pair=pair, status=PairStatus.DISMISSED)
    except PermissionDenied:
        messages.error(request, "You may not decide on these records.")
        return redirect("dedupe:compare", pk=pk)
    messages.success(
        request,
        f"Marked {pair.customer_a.display_name} and {pair.customer_b.display_name} as "
        "different people; detection will not suggest them again.",
    )
    return redirect("dedupe:queue")


@login_required
@require_POST
def undo(request: AuthedRequest, pk: int) -> HttpResponse:
    done = selectors.merge_for(actor=request.user, pk=pk)
    try:
        merging.customer_unmerge(actor=request.user, merge=done)
    except (PermissionDenied, ValidationError) as exc:
        text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, text or "You may not undo this merge.")
        return redirect(done.survivor.get_absolute_url())
    messages.success(
        request,
        f"Merge undone: {done.loser.display_name} is a record of its own again, with its links.",
    )
    return redirect(done.survivor.get_absolute_url())


@login_required
@require_POST
def settings_update(request: AuthedRequest) -> HttpResponse:
    try:
        merging.dedupe_settings_update(
            actor=request.user,
            auto_merge_enabled=request.POST.get("auto_merge_enabled") == "on",
            auto_merge_threshold=_float(request.POST.get("auto_merge_threshold"), -1.0),
            auto_merge_rule=request.POST.get("auto_merge_rule", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Duplicate settings saved.")
    return redirect("dedupe:queue")


@login_required
@require_POST
def run_now(request: AuthedRequest) -> HttpResponse:
    if not getattr(request.user, "is_admin", False):
        raise PermissionDenied
    job = services.detection_start(actor=request.user)
    return redirect("core:job_detail", job_id=job.pk)
