"""Public tracker keys: one per site, for the JavaScript tracker. A tracker key is not a
secret (it sits in the page), so it can do one thing only: write browser events from its
allowed origins, within its rate limit. Managing keys is for administrators."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from rapport.core import audit
from rapport.core.models import AuditAction
from rapport.marketing.models import TrackerKey

TRACKER_PREFIX = "pk_"
MAX_ORIGINS = 20


def _require_admin(actor: Any) -> None:
    if not getattr(actor, "is_admin", False):
        raise PermissionDenied("Only administrators manage tracker keys.")


def clean_origins(origins: Sequence[str]) -> list[str]:
    """Origins as browsers send them ("https://shop.example.com", no path), deduplicated;
    ValidationError naming the first bad one."""
    cleaned: list[str] = []
    for raw in origins:
        value = raw.strip().rstrip("/")
        if not value:
            continue
        parts = urlsplit(value)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path
            or (parts.query or parts.fragment or parts.username)
        ):
            raise ValidationError(
                {"allowed_origins": f"{raw!r} is not an origin (like https://shop.example.com)."}
            )
        origin = f"{parts.scheme}://{parts.netloc.lower()}"
        if origin not in cleaned:
            cleaned.append(origin)
    if not cleaned:
        raise ValidationError({"allowed_origins": "Give at least one site origin."})
    if len(cleaned) > MAX_ORIGINS:
        raise ValidationError({"allowed_origins": f"At most {MAX_ORIGINS} origins."})
    return cleaned


def _clean_rate(rate: int) -> int:
    if not 1 <= rate <= 100_000:
        raise ValidationError({"rate_per_minute": "Give 1 to 100,000 requests a minute."})
    return rate


@transaction.atomic
def tracker_key_create(
    *, actor: Any, name: str, allowed_origins: Sequence[str], rate_per_minute: int = 600
) -> TrackerKey:
    _require_admin(actor)
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the site (e.g. Web shop)."})
    key = TrackerKey.objects.create(
        name=name[:100],
        public_key=TRACKER_PREFIX + secrets.token_urlsafe(18),
        allowed_origins=clean_origins(allowed_origins),
        rate_per_minute=_clean_rate(rate_per_minute),
    )
    audit.record_created(actor=actor, obj=key)
    return key


@transaction.atomic
def tracker_key_update(
    *,
    actor: Any,
    key: TrackerKey,
    allowed_origins: Sequence[str] | None = None,
    rate_per_minute: int | None = None,
    is_active: bool | None = None,
) -> TrackerKey:
    """Change a key's origins, rate or state (a deactivated key is refused at once)."""
    _require_admin(actor)
    key = TrackerKey.objects.select_for_update().get(pk=key.pk)
    fields = ["allowed_origins", "rate_per_minute", "is_active"]
    before = audit.snapshot(key, fields)
    if allowed_origins is not None:
        key.allowed_origins = clean_origins(allowed_origins)
    if rate_per_minute is not None:
        key.rate_per_minute = _clean_rate(rate_per_minute)
    if is_active is not None:
        key.is_active = is_active
    if changes := audit.diff(before, audit.snapshot(key, fields)):
        key.save()
        audit.record(actor=actor, action=AuditAction.UPDATE, obj=key, changes=changes)
    return key
