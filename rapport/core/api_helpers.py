"""Building blocks every app's API router uses, so all endpoints behave alike.

- `keyset_list`: one page of a queryset as `{"items": [...], "next_cursor": ...}`, with a
  whitelisted sort, a limit capped at settings.API_PAGE_SIZE_MAX and hostile cursors
  answered with a problem (never a 500, never SQL).
- (Undeclared query parameters are refused for every operation by `core.api.build_api`.)
- `etag_for` / `set_etag` / `if_match_version`: `ETag: "<id>-<version>"` on detail
  responses and `If-Match` on writes (mismatch: 412); the returned version goes to the
  service as `expected_version`, which re-checks it under a row lock.
- `idempotent`: `Idempotency-Key` on creates; the first response is stored in the same
  transaction as the create and replayed for a retry of the same request.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, models, transaction
from django.http import HttpRequest, HttpResponse

from rapport.core.api import ProblemError
from rapport.core.models import IdempotencyRecord
from rapport.core.pagination import InvalidCursor, Page, SortKey, keyset_page, parse_sort

M = TypeVar("M", bound=models.Model)

DEFAULT_PAGE_SIZE = 50
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")


# --- JSON responses ---------------------------------------------------------------------


_DJANGO_JSON = DjangoJSONEncoder()
# orjson (C) for the plain types; datetimes, dates, Decimals and lazy strings still go
# through Django's encoder, so their spelling is what it always was.
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def json_dumps(body: Any) -> bytes:
    """Compact UTF-8 JSON, as `json.dumps(body, cls=DjangoJSONEncoder)` but 6x cheaper."""
    return orjson.dumps(body, default=_DJANGO_JSON.default, option=_ORJSON_OPTIONS)


def json_response(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    """A JSON response built without the schema layer (for hand-serialised hot paths)."""
    response = HttpResponse(json_dumps(body), content_type="application/json", status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


# --- Filters and keyset lists -----------------------------------------------------------


def clamp_limit(limit: int | None) -> int:
    """The page size asked for, between 1 and settings.API_PAGE_SIZE_MAX."""
    if limit is None:
        return min(DEFAULT_PAGE_SIZE, settings.API_PAGE_SIZE_MAX)
    if limit < 1:
        raise ProblemError(
            422,
            "Invalid request",
            "limit must be at least 1.",
            type="validation",
            errors=[{"field": "limit", "message": "Must be at least 1."}],
        )
    return min(limit, settings.API_PAGE_SIZE_MAX)


def keyset(
    queryset: models.QuerySet[M],
    *,
    sorts: dict[str, SortKey],
    default_sort: str,
    sort: str | None,
    cursor: str | None,
    limit: int | None,
    fetch: Callable[[models.QuerySet[M]], list[Any]] = list,
) -> Page[M]:
    """One keyset page; a bad sort is a 422 problem and a bad cursor a 400 problem."""
    sort_key, descending = parse_sort(sort, sorts, default_sort)
    try:
        return keyset_page(
            queryset,
            sort_key=sort_key,
            descending=descending,
            cursor=cursor,
            limit=clamp_limit(limit),
            fetch=fetch,
        )
    except (ValueError, TypeError, OverflowError) as exc:  # cursor values the column rejects
        raise InvalidCursor() from exc


def keyset_list(
    queryset: models.QuerySet[M],
    *,
    serialize: Callable[[Sequence[M]], list[dict[str, Any]]],
    sorts: dict[str, SortKey],
    default_sort: str,
    sort: str | None,
    cursor: str | None,
    limit: int | None,
    fetch: Callable[[models.QuerySet[M]], list[Any]] = list,
) -> Any:
    """The list response `{"items": [...], "next_cursor": "..."|null}` for one page."""
    page = keyset(
        queryset,
        sorts=sorts,
        default_sort=default_sort,
        sort=sort,
        cursor=cursor,
        limit=limit,
        fetch=fetch,
    )
    return json_response({"items": serialize(page.items), "next_cursor": page.next_cursor})


def page_schema(item: type[Any], name: str) -> type[Any]:
    """The OpenAPI schema of a list response of `item`s (for `response=`); `next_cursor`
    is always sent (null on the last page), so it is required."""
    from ninja import Schema
    from pydantic import create_model

    return create_model(
        name,
        __base__=Schema,
        items=(list[item], ...),  # type: ignore[valid-type]
        next_cursor=(str | None, ...),
    )


# --- ETag / If-Match --------------------------------------------------------------------


def etag_from(pk: Any, version: Any) -> str:
    """The strong ETag of version `version` of record `pk`."""
    return f'"{pk}-{version}"'


def etag_for(obj: Any) -> str:
    """The strong ETag of a versioned record: its id and version."""
    return etag_from(obj.pk, obj.version)


def set_etag(response: HttpResponse, obj: Any) -> None:
    response["ETag"] = etag_for(obj)


def if_match_version(request: HttpRequest, obj: Any, *, required: bool = False) -> int | None:
    """Check `If-Match` against `obj`; return the version the client saw (for the service).

    No header: None (or 428 when `required`). `*`: the current version. A list of ETags
    that does not contain the current one: 412.
    """
    header = request.headers.get("If-Match")
    if header is None:
        if required:
            raise ProblemError(
                428,
                "Precondition required",
                "Send If-Match with the ETag you read, to avoid overwriting someone's change.",
                type="precondition-required",
            )
        return None
    tags = [t.strip().removeprefix("W/") for t in header.split(",") if t.strip()]
    if "*" in tags:
        return int(obj.version)
    if etag_for(obj) not in tags:
        raise ProblemError(
            412,
            "Precondition failed",
            f"The record changed since you read it (it is now {etag_for(obj)}). "
            "Read it again and re-apply your change.",
            type="stale-version",
        )
    return int(obj.version)


# --- Idempotency-Key --------------------------------------------------------------------


def principal_of(request: HttpRequest) -> str:
    """Who the key belongs to: the API key when there is one, else the user."""
    user: Any = request.user
    api_key = getattr(user, "api_key", None)
    return f"key:{api_key.pk}" if api_key is not None else f"user:{user.pk}"


def request_fingerprint(request: HttpRequest) -> str:
    """Method, path and body (canonical JSON when it parses) of the request."""
    try:
        body = json.dumps(json.loads(request.body or b"null"), sort_keys=True).encode()
    except ValueError:
        body = request.body
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> HttpResponse:
    if record.request_fingerprint != fingerprint:
        raise ProblemError(
            422,
            "Idempotency key reused",
            "This Idempotency-Key was already used with a different request. "
            "Use a new key for a new request.",
            type="idempotency-key-reused",
            errors=[{"field": IDEMPOTENCY_HEADER, "message": "Used with another request."}],
        )
    return json_response(
        record.response_body, status=record.status_code, headers={REPLAYED_HEADER: "true"}
    )


def idempotent(
    request: HttpRequest, create: Callable[[], tuple[int, dict[str, Any]]]
) -> HttpResponse:
    """Run `create` (returning status and JSON body) at most once per Idempotency-Key.

    The record of the response is written in the same transaction as the create, so a
    crash leaves either both or neither. Two concurrent requests with one key: the unique
    constraint makes the second one's transaction fail and roll back, and it replays the
    first's response instead.
    """
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        with transaction.atomic():
            status, body = create()
        return json_response(body, status=status)
    if not _IDEMPOTENCY_KEY_RE.match(key):
        raise ProblemError(
            400,
            "Invalid Idempotency-Key",
            "An Idempotency-Key is 1 to 255 visible ASCII characters (a UUID is ideal).",
            type="invalid-idempotency-key",
            errors=[{"field": IDEMPOTENCY_HEADER, "message": "1-255 visible ASCII characters."}],
        )
    principal = principal_of(request)
    fingerprint = request_fingerprint(request)
    existing = IdempotencyRecord.objects.filter(principal=principal, key=key).first()
    if existing is not None:
        return _replay(existing, fingerprint)
    try:
        with transaction.atomic():
            status, body = create()
            IdempotencyRecord.objects.create(
                principal=principal,
                key=key,
                request_fingerprint=fingerprint,
                status_code=status,
                response_body=body,
            )
    except IntegrityError:
        existing = IdempotencyRecord.objects.filter(principal=principal, key=key).first()
        if existing is None:  # the create itself clashed (e.g. a unique field): not ours
            raise
        return _replay(existing, fingerprint)
    return json_response(body, status=status)
