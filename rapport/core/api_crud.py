"""The API CRUD builder: one declaration per object type gives its five REST operations.

`CrudResource` names an object type's selectors, services and schemas; `add_crud_routes`
registers on a Ninja router

    GET    /<name>            list, keyset cursor, whitelisted sort, filters as parameters
    POST   /<name>            create; `Idempotency-Key` replays the first answer
    GET    /<name>/{<x>_id}   one record with its `ETag`
    PATCH  /<name>/{<x>_id}   the fields sent; `If-Match` refuses a stale change (412)
    DELETE /<name>/{<x>_id}   `If-Match` as for PATCH

with the behaviour every endpoint of the API shares, written here once: the role's and
the API key's grant for the object type is checked first (403 for a type the caller may
not touch at all); reads go through selectors that are already narrowed to the caller's
records (anything else is a 404, never a hint that it exists); writes go through the
services, which `require()` the record-level permission inside their transaction; every
failure is the problem details `core.api` renders; undeclared query parameters are
refused by `core.api.build_api` for every operation, these included.

`schema_from_dataclass` derives the request schemas from the service's input dataclass
(and the list's filter parameters from the selector's filter dataclass), so a field is
declared once, in the service, and the API only says what its loosely typed fields
accept (`Any` amounts become `Money`; integers are bounded to 64 bits automatically).
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable, Iterable
from types import UnionType
from typing import Annotated, Any, cast

import orjson
from django.conf import settings
from django.db import models
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import BaseModel, Field, create_model

from rapport.core.api_fields import Id, Int64
from rapport.core.api_helpers import (
    etag_from,
    idempotent,
    if_match_version,
    json_dumps,
    keyset,
    page_schema,
    set_etag,
)
from rapport.core.pagination import SortKey
from rapport.core.permissions import require

# --- Request schemas from dataclasses ----------------------------------------------------

# Which dataclass each derived schema came from, so a payload converts back to it.
_SOURCES: dict[type[BaseModel], type] = {}


def _without_none(hint: Any) -> Any:
    """`X | None` → X (the schema decides optionality from the default)."""
    if typing.get_origin(hint) in (typing.Union, UnionType):
        rest = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
        return typing.Union[tuple(rest)]  # noqa: UP007 - built from a runtime tuple
    return hint


def _api_type(source: type, name: str, hint: Any) -> Any:
    """What the API accepts for a dataclass field the caller did not type explicitly."""
    base = _without_none(hint)
    if base is Any:
        raise TypeError(
            f"{source.__name__}.{name} is typed Any: say in types= what the API accepts "
            "(Money, Int32, a nested schema…)."
        )
    if base is int:  # bounded like the 64-bit column it ends in, never a bare int
        return Id if name == "id" or name.endswith("_id") else Int64
    if typing.get_origin(base) is list and typing.get_args(base) == (int,):
        return list[Id] if name.endswith("_ids") else list[Int64]
    if any(dataclasses.is_dataclass(arg) for arg in typing.get_args(base)):
        raise TypeError(f"{source.__name__}.{name} nests a dataclass: give its schema in types=.")
    return base


def schema_from_dataclass(
    source: type,
    *,
    name: str,
    partial: bool = False,
    fields: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    types: dict[str, Any] | None = None,
    defaults: dict[str, Any] | None = None,
    required: Iterable[str] = (),
    leading: dict[str, tuple[Any, Any]] | None = None,
) -> type[Schema]:
    """A Ninja schema named `name` with the fields of the dataclass `source`.

    - `partial`: every field optional with default None (a PATCH body: only what is sent
      changes); otherwise the dataclass's defaults, except `defaults` and `required`.
    - `fields`: which fields, in this order (default: all, in the dataclass's order);
      `exclude`: fields the API does not offer.
    - `types`: what the API accepts where the dataclass's type is loose (`Any`) or needs
      bounds or a description (`Annotated[bool, Field(description=...)]`).
    - `leading`: fields the dataclass does not have, first (`customer_id` of an order:
      the service takes the customer itself).

    A field whose default is not None is not nullable (`"description": null` is a 422).
    """
    hints = typing.get_type_hints(source, include_extras=True)
    by_name = {f.name: f for f in dataclasses.fields(source)}
    names = list(fields) if fields is not None else list(by_name)
    skipped = set(exclude)
    overrides = types or {}
    given_defaults = defaults or {}
    must = set(required)
    unknown = (set(names) | skipped | set(overrides) | set(given_defaults) | must) - set(by_name)
    if unknown:
        raise TypeError(f"{source.__name__} has no field(s) {', '.join(sorted(unknown))}.")
    spec: dict[str, Any] = dict(leading or {})
    for field_name in names:
        if field_name in skipped:
            continue
        base = overrides.get(field_name) or _api_type(source, field_name, hints[field_name])
        if partial:
            spec[field_name] = (base | None, None)
            continue
        if field_name in must:
            spec[field_name] = (base, ...)
            continue
        if field_name in given_defaults:
            default = given_defaults[field_name]
        else:
            field = by_name[field_name]
            if field.default is not dataclasses.MISSING:
                default = field.default
            elif field.default_factory is not dataclasses.MISSING:
                default = Field(default_factory=field.default_factory)
            else:
                default = ...
        spec[field_name] = (base | None, None) if default is None else (base, default)
    schema = cast(type[Schema], create_model(name, __base__=Schema, **spec))
    _SOURCES[schema] = source
    return schema


def _plain(value: Any) -> Any:
    """A nested schema value as plain data (a nested object is always sent whole)."""
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _build(cls: type, data: dict[str, Any]) -> Any:
    """`cls(**data)`, turning dicts in fields typed `list[SomeDataclass]` into instances."""
    hints = typing.get_type_hints(cls)
    for name, value in data.items():
        inner = typing.get_args(_without_none(hints.get(name)))
        nested = [a for a in inner if isinstance(a, type) and dataclasses.is_dataclass(a)]
        if nested and isinstance(value, list):
            data[name] = [_build(nested[0], item) for item in value]
    return cls(**data)


def input_from(payload: BaseModel, cls: type | None = None, *, partial: bool = False) -> Any:
    """The service's input dataclass from a schema `schema_from_dataclass` derived.

    `partial`: only the fields the client sent (the dataclass's defaults, "leave it", for
    the rest). Fields of the schema the dataclass does not have (`customer_id`) are left
    to the caller."""
    target = cls or _SOURCES[type(payload)]
    names = {f.name for f in dataclasses.fields(target)}
    sent = payload.model_fields_set if partial else set(type(payload).model_fields)
    values = {n: _plain(getattr(payload, n)) for n in sent if n in names}
    return _build(cast(type, target), values)


# --- The resource ------------------------------------------------------------------------

Actor = Any
Selector = Callable[..., Any]


@dataclasses.dataclass(frozen=True)
class CrudResource:
    """One object type's REST resource: what to call, never how to answer.

    Services are called with keyword arguments, the record under `record_arg` (default:
    the model's name): `create(actor=, data=, **create_args(actor, payload))`,
    `update(actor=, <record>=, data=, expected_version=)`,
    `delete(actor=, <record>=, expected_version=)`. Selectors: `select_list(actor=,
    filters=)` returns the scoped queryset, `select_get(actor=, pk=)` the record or
    Http404; `select_for_update` (default `select_get`) finds the record to change.
    """

    name: str
    model: type[models.Model]
    schema_out: type[Schema]
    schema_in: type[Schema]
    schema_patch: type[Schema]
    select_list: Selector
    select_get: Selector
    sorts: dict[str, SortKey]
    default_sort: str
    create: Callable[..., Any]
    update: Callable[..., Any]
    delete: Callable[..., Any]
    filters: type[Schema] | None = None
    schema_detail: type[Schema] | None = None
    select_for_update: Selector | None = None
    create_args: Callable[[Actor, Any], dict[str, Any]] | None = None
    record_arg: str = ""
    summaries: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def singular(self) -> str:
        return str(self.model._meta.model_name)

    @property
    def id_param(self) -> str:
        return f"{self.singular}_id"

    def summary(self, verb: str) -> str:
        noun = str(self.model._meta.verbose_name)
        article = "an" if noun[:1] in "aeiou" else "a"
        defaults = {
            "list": f"List {self.name}",
            "create": f"Create {article} {noun}",
            "get": f"Get {article} {noun}",
            "update": f"Update {article} {noun}",
            "delete": f"Delete {article} {noun}",
        }
        return self.summaries.get(verb, defaults[verb])


def list_params_schema(resource: CrudResource) -> type[Schema]:
    """The list's query parameters: cursor, limit, the resource's filters, sort."""
    sorts = list(resource.sorts)
    names = ", ".join(sorts[:-1]) + f" or {sorts[-1]}" if len(sorts) > 1 else sorts[0]
    spec: dict[str, Any] = {
        "cursor": (str | None, None),
        "limit": (int, Field(50, ge=1, le=settings.API_PAGE_SIZE_MAX)),
    }
    for name, info in (resource.filters.model_fields if resource.filters else {}).items():
        spec[name] = (Annotated[info.annotation, info], info.default)
    spec["sort"] = (str | None, Field(None, description=f"{names}; '-' for descending"))
    title = resource.singular.capitalize()
    return cast(type[Schema], create_model(f"{title}ListParams", __base__=Schema, **spec))


def _body_of(schema: type[Schema], obj: Any) -> dict[str, Any]:
    """`obj` as JSON data, spelled as Ninja spells every other answer (DjangoJSONEncoder:
    dates, Decimals as strings), so a replayed create reads as the record's GET does."""
    body: dict[str, Any] = orjson.loads(json_dumps(schema.from_orm(obj).model_dump()))
    return body


def _view(
    resource: CrudResource,
    verb: str,
    run: Callable[..., Any],
    params: list[tuple[str, Any]],
    doc: str,
) -> Callable[..., Any]:
    """`run` as a view Ninja can read: named `<verb>_<name>` in the app's API module (so
    operation ids stay `rapport_commerce_api_list_products`), with a real signature."""
    name = f"{verb}_{resource.name if verb == 'list' else resource.singular}"

    def view(request: HttpRequest, **kwargs: Any) -> Any:
        return run(request, **kwargs)

    view.__name__ = view.__qualname__ = name
    view.__module__ = f"rapport.{resource.model._meta.app_label}.api"
    view.__doc__ = doc
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    view.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("request", kind, annotation=HttpRequest)]
        + [inspect.Parameter(n, kind, annotation=a) for n, a in params]
    )
    return view


def add_crud_routes(router: Router, resource: CrudResource) -> None:
    """Register the resource's list, create, get, update and delete on `router`."""
    model = resource.model
    collection = f"/{resource.name}"
    item = f"{collection}/{{{resource.id_param}}}"
    list_params = list_params_schema(resource)
    filter_source = _SOURCES.get(resource.filters) if resource.filters else None
    filter_names = list(resource.filters.model_fields) if resource.filters else []
    select_for_update = resource.select_for_update or resource.select_get
    record_arg = resource.record_arg or resource.singular

    def list_(request: HttpRequest, params: Any) -> Any:
        actor: Any = request.user
        require(actor, "view", model)
        filters = None
        if resource.filters is not None:
            values = {n: getattr(params, n) for n in filter_names}
            # The selector's own filter dataclass when the schema was derived from one.
            filters = (filter_source or resource.filters)(**values)
        page = keyset(
            resource.select_list(actor=actor, filters=filters),
            sorts=resource.sorts,
            default_sort=resource.default_sort,
            sort=params.sort,
            cursor=params.cursor,
            limit=params.limit,
        )
        return {"items": page.items, "next_cursor": page.next_cursor}

    def create(request: HttpRequest, payload: Any) -> HttpResponse:
        actor: Any = request.user
        require(actor, "create", model)

        def run() -> tuple[int, dict[str, Any]]:
            extra = resource.create_args(actor, payload) if resource.create_args else {}
            obj = resource.create(actor=actor, data=input_from(payload), **extra)
            return 201, _body_of(resource.schema_out, obj)

        response = idempotent(request, run)
        if response.status_code == 201:  # created now or replayed
            body = orjson.loads(response.content)
            response["ETag"] = etag_from(body["id"], body["version"])
            response["Location"] = f"{request.path.rstrip('/')}/{body['id']}"
        return response

    def get(request: HttpRequest, response: HttpResponse, **ids: int) -> Any:
        actor: Any = request.user
        require(actor, "view", model)
        obj = resource.select_get(actor=actor, pk=ids[resource.id_param])
        set_etag(response, obj)
        return obj

    def update(request: HttpRequest, payload: Any, response: HttpResponse, **ids: int) -> Any:
        actor: Any = request.user
        require(actor, "edit", model)
        obj = select_for_update(actor=actor, pk=ids[resource.id_param])
        obj = resource.update(
            actor=actor,
            **{record_arg: obj},
            data=input_from(payload, partial=True),
            expected_version=if_match_version(request, obj),
        )
        set_etag(response, obj)
        return obj

    def delete(request: HttpRequest, **ids: int) -> Any:
        actor: Any = request.user
        require(actor, "delete", model)
        obj = select_for_update(actor=actor, pk=ids[resource.id_param])
        resource.delete(
            actor=actor, **{record_arg: obj}, expected_version=if_match_version(request, obj)
        )
        return Status(204, None)

    page = page_schema(resource.schema_out, f"{resource.singular.capitalize()}Page")
    path_id = (resource.id_param, Id)
    operations: list[tuple[str, str, str, Callable[..., Any], list[tuple[str, Any]], Any, str]] = [
        (
            "list",
            collection,
            "GET",
            list_,
            [("params", cast(Any, Query)[list_params])],
            page,
            "One page; follow `next_cursor` for the next (same filters and sort).",
        ),
        (
            "create",
            collection,
            "POST",
            create,
            [("payload", resource.schema_in)],
            {201: resource.schema_out},
            "Send `Idempotency-Key` to make a retry safe: the first answer is replayed.",
        ),
        (
            "get",
            item,
            "GET",
            get,
            [path_id, ("response", HttpResponse)],
            resource.schema_detail or resource.schema_out,
            "With an `ETag`: send it back as `If-Match` when you change or delete it.",
        ),
        (
            "update",
            item,
            "PATCH",
            update,
            [path_id, ("payload", resource.schema_patch), ("response", HttpResponse)],
            resource.schema_out,
            "Only the fields you send change. With `If-Match`, a change to a record that "
            "changed since you read it is refused (412).",
        ),
        (
            "delete",
            item,
            "DELETE",
            delete,
            [path_id],
            {204: None},
            "With `If-Match`, refused (412) when the record changed since you read it.",
        ),
    ]
    for verb, path, method, run, params, response, doc in operations:
        view = _view(resource, verb, run, params, doc)
        router.add_api_operation(
            path,
            [method],
            view,
            response=response,
            summary=resource.summary(verb),
            operation_id=f"{view.__module__}_{view.__name__}".replace(".", "_"),
        )
