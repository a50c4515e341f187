"""What each domain app contributes to the shared shell: navigation entries, object types
that roles grant access to, global-search providers, panels and value metrics on the
customer 360 page, how its timeline entries group, how its records follow a merge of two
customers, what it holds about a person for GDPR export and erasure, what a file import
can hold, the fields segments and list filters use, the sources reports count, and
the background tasks that modules below the task's own module enqueue by name.

Apps register in AppConfig.ready(), so a later app plugs in without touching the others.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils.translation import ngettext


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    url_name: str
    icon: str
    order: int
    object_type: str | None = None  # shown only to users who may view this type
    available: bool = True  # False: a capability that a later release brings
    url_args: tuple[str, ...] = ()
    # A URL name answering a small count fragment (overdue tasks, unread notifications);
    # the shell loads it after the page with htmx, so no page pays its query.
    badge_url_name: str = ""

    @property
    def href(self) -> str:
        return reverse(self.url_name, args=self.url_args)

    @property
    def badge_href(self) -> str:
        return reverse(self.badge_url_name) if self.badge_url_name else ""


@dataclass(frozen=True)
class ObjectType:
    name: str  # "customers.person"
    label: str
    label_plural: str
    actions: tuple[str, ...] = ("view", "create", "edit", "delete", "export")
    # The foreign key from a record to the customer it is about ("customer" on an order);
    # outside actors (portal customers, partner users) see a type only through it.
    customer_field: str = ""


@dataclass(frozen=True)
class SearchProvider:
    key: str
    label: str
    search: Callable[..., list[Any]]  # (actor=, query=, limit=) -> list[SearchHit]
    order: int = 100
    # The search page's fuller answer, when the provider has one: (actor=, query=,
    # limit=) -> SearchResults, with a count and a link to the list of all matches.
    results: Callable[..., Any] | None = None


@dataclass(frozen=True)
class SearchHit:
    title: str
    subtitle: str
    url: str
    kind: str


@dataclass(frozen=True)
class SearchResults:
    """One provider's part of the search page: its best hits, how many match in all
    ("12", "more than 10,000") and where to see them all."""

    label: str
    hits: list[SearchHit]
    total: str
    see_all_url: str | None = None
    # The label for one match ("customer"); the plural `label` when not given.
    label_one: str = ""

    @property
    def summary(self) -> str:
        """What follows the total: "customer matches" after 1, "customers match" else."""
        one = self.total == "1"
        label = (self.label_one or self.label) if one else self.label
        return ngettext("%(label)s matches", "%(label)s match", 1 if one else 2) % {"label": label}


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    template: str
    # (actor=, customer=) -> the template's context, or None to hide the panel. The host
    # page renders `template` with it (plus `customer`) inside a card titled `title`.
    context: Callable[..., dict[str, Any] | None]
    order: int = 100
    column: str = "main"  # "main" or "side"


@dataclass(frozen=True)
class MetricValue:
    value: str  # as shown: "1,240 EUR", "Champions", "12 %"
    hint: str = ""  # one line under it: how it was computed, or when


@dataclass(frozen=True)
class CustomerMetric:
    """A value card on the customer 360 page (lifetime value, RFM segment, churn risk…).

    `value`: (actor=, customer=) -> MetricValue, or None when the app has nothing to show
    for this customer: then no card is drawn. Each must cost a constant number of queries.
    """

    key: str
    label: str
    value: Callable[..., MetricValue | None]
    order: int = 100


@dataclass(frozen=True)
class TimelineKind:
    """How entries of one timeline kind group on the customer timeline.

    `group_key(entry)` names the thing an entry belongs to ("order:42"), or None to stand
    alone. Entries of a page that share a key show as one item at the newest one's place:
    headed by the `anchor` entry of that key when the page holds it (the order itself),
    the others folded under it. `label(n)` names the folded ones: "3 shipment updates".
    """

    kind: str
    group_key: Callable[[Any], str | None]
    anchor: bool = False
    label: Callable[[int], str] | None = None


@dataclass(frozen=True)
class DemoLoader:
    key: str
    load: Callable[..., str]  # (stdout=) -> one line saying what it loaded
    order: int = 100


class MergeStrategy:
    """How rows that point at the customer merged away follow the merge."""

    # Re-point every row in one UPDATE and remember their ids (timeline, consent ledger):
    # for big tables whose rows cannot collide with the survivor's.
    MOVE_ALL = "move_all"
    # Re-point row by row, remembering each row as it was; a row that would duplicate one
    # of the survivor's (same `same_as` key or `unique_with` values) or link the survivor
    # to itself is deleted instead, and comes back on unmerge (contact points, addresses,
    # tags, relationships).
    MOVE_ROWS = "move_rows"
    # The owning app moves them with its own service (audit, events, denormalised copies).
    CUSTOM = "custom"
    # Stay on the merged-away record on purpose (`why` says why): merge history, the
    # duplicate pairs that come back to the queue if the merge is undone, rows that another
    # rule moves with their parent.
    KEEP = "keep"


@dataclass(frozen=True)
class MergeRule:
    """One foreign key to the customer and what a merge does with the rows behind it.

    Every relation to the customer must have one: a system check (dedupe.W001/E001) and
    a test fail for a relation nobody decided on, so a new app cannot leave its rows
    behind on a record that no longer shows anywhere.
    """

    model: str  # "commerce.Order" (app label and model name)
    field: str  # the foreign key's name: "customer"
    strategy: str
    unique_with: tuple[str, ...] = ()  # MOVE_ROWS: with `field`, what must stay unique
    reset_on_move: tuple[tuple[str, Any], ...] = ()  # MOVE_ROWS: e.g. (("is_primary", False),)
    # CUSTOM: (actor=, source=, target=, ids=None) -> ids moved; called again with the
    # customers swapped and the ids to undo the merge.
    mover: Callable[..., list[int]] | None = None
    why: str = ""  # KEEP: the reason, shown to whoever reads the check
    label: str = ""  # what people call these rows ("Timeline entries"); default: the model's
    # MOVE_ROWS: a row -> what makes two rows the same thing once normalised (an address
    # typed "12 High St." and "12 high st"); default: the `unique_with` values. A moved
    # row with the key of one of the survivor's rows is deleted and comes back on unmerge.
    same_as: Callable[[Any], Hashable] | None = None

    @property
    def key(self) -> str:
        return f"{self.model.lower()}.{self.field}"


@dataclass(frozen=True)
class GdprContributor:
    """What one app holds about a person, for the GDPR archive and for erasure.

    `export(customer_id=)` returns the archive's sections ({"orders": [...]}) or None.
    `erase(ctx=)` runs inside customer_erase's transaction with a
    `core.gdpr.ErasureContext`: it blanks the app's copies of the person's data, tells
    the context which of its records are the person's (`ctx.add_objects`), so the audit
    log and outbox contributors (which run last) redact the rows about them, and returns
    how many rows or files it changed (recorded, as a count only, in the erase audit row).
    """

    key: str
    label: str
    erase: Callable[..., int]
    export: Callable[..., dict[str, Any] | None] | None = None
    order: int = 100  # erasure runs in this order: owners first, logs (audit, outbox) last


@dataclass(frozen=True)
class ImportTarget:
    """What a CSV/XLSX import can hold, declared by the app that owns the records so that
    the import wizard, API and CLI (dataquality) name no object type themselves.

    `fields` are the {field: label} a file column can map to and `required` the ones a
    file must map. `custom_fields`: columns may also feed the customers' custom fields
    (`cf:<key>`); `upsert_by`: the user chooses how rows match existing records (else by
    `natural_key`). `write_batch(actor=, records=)` writes one batch of parsed records
    (dicts: the fields, `row` = the record's first file row, `lines` = its line dicts) in
    one transaction through the owning app's services and returns an outcome with
    `created`, `updated`, `unchanged` and `errors` ({"row", "field", "message"}). None:
    the records are contacts, written by dataquality's own bulk contact path.

    `export_rows(actor=, filters=)` (optional) returns `(header, rows)`: the records the
    actor may export (record scope, the export permission: PermissionDenied otherwise),
    narrowed by `filters` ({name: value}; ValidationError naming a bad one), as rows in the
    import's own columns, streamed in keyset batches, so an export re-imports unchanged.
    `export_object_type` is the audit log's object type for such an export.
    """

    object_type: str  # the key stored on an import run ("contacts", "orders")
    label: str
    noun: str  # one record, in the messages: "No column of the file maps to a contact field."
    fields: dict[str, str]
    required: tuple[str, ...] = ()
    natural_key: str = "external_id"
    custom_fields: bool = False
    upsert_by: bool = False
    write_batch: Callable[..., Any] | None = None
    export_rows: Callable[..., tuple[list[str], Iterator[list[Any]]]] | None = None
    export_object_type: str = ""
    order: int = 100


@dataclass(frozen=True)
class SegmentField:
    """A field that segments and list filters can use on one object type's records: the
    customer list's filters today, marketing's segment rules and analytics' cohorts next
    (an app adds a field, e.g. an RFM segment, and every filter that reads the registry
    accepts it).

    `name` is the filter's public name (`?country=NL`); `type` says what a value is
    ("text", "choice", "id", "date", "number", "boolean", "tag", "search");
    `operators` the comparisons it means ("eq", "iexact", "contains", "in", "all", "gte",
    "lt", "match"), for a rule builder to offer. `apply(queryset, values, actor=)` compiles
    the non-empty list of raw values into the queryset filter (raising ValidationError
    keyed by `name` for a bad value); `lookup` names the ORM lookup when it is one.
    """

    object_type: str
    name: str
    label: str
    type: str
    operators: tuple[str, ...]
    apply: Callable[..., Any]
    lookup: str = ""


@dataclass
class _Registry:
    nav: dict[str, NavItem] = field(default_factory=dict)
    object_types: dict[str, ObjectType] = field(default_factory=dict)
    key_only_types: dict[str, ObjectType] = field(default_factory=dict)
    search: dict[str, SearchProvider] = field(default_factory=dict)
    panels: dict[str, Panel] = field(default_factory=dict)
    demo_loaders: dict[str, DemoLoader] = field(default_factory=dict)
    metrics: dict[str, CustomerMetric] = field(default_factory=dict)
    timeline_kinds: dict[str, TimelineKind] = field(default_factory=dict)
    merge_rules: dict[str, MergeRule] = field(default_factory=dict)
    gdpr: dict[str, GdprContributor] = field(default_factory=dict)
    tasks: dict[str, Any] = field(default_factory=dict)
    import_targets: dict[str, ImportTarget] = field(default_factory=dict)
    segment_fields: dict[tuple[str, str], SegmentField] = field(default_factory=dict)
    person_matcher: Callable[..., list[tuple[int, float]]] | None = None


_registry = _Registry()


def add_nav(item: NavItem) -> None:
    _registry.nav[item.key] = item


def nav_items() -> list[NavItem]:
    return sorted(_registry.nav.values(), key=lambda i: i.order)


def add_object_type(object_type: ObjectType) -> None:
    _registry.object_types[object_type.name] = object_type


def object_type(name: str) -> ObjectType | None:
    return _registry.object_types.get(name)


def object_types() -> list[ObjectType]:
    return sorted(_registry.object_types.values(), key=lambda o: o.label)


def add_api_key_object_type(object_type: ObjectType) -> None:
    """A type API keys can be scoped to although roles do not grant it: an area only
    administrators use (webhooks), which a key must still be able to narrow to."""
    _registry.key_only_types[object_type.name] = object_type


def api_key_object_types() -> list[ObjectType]:
    """The types an API key's scopes name: every role type plus the key-only ones."""
    merged = {**_registry.key_only_types, **_registry.object_types}
    return sorted(merged.values(), key=lambda o: o.label)


def add_search_provider(provider: SearchProvider) -> None:
    _registry.search[provider.key] = provider


def search_providers() -> list[SearchProvider]:
    return sorted(_registry.search.values(), key=lambda p: p.order)


def add_panel(panel: Panel) -> None:
    _registry.panels[panel.key] = panel


def panels(column: str) -> list[Panel]:
    return sorted(
        (p for p in _registry.panels.values() if p.column == column), key=lambda p: p.order
    )


def add_customer_metric(metric: CustomerMetric) -> None:
    _registry.metrics[metric.key] = metric


def remove_customer_metric(key: str) -> None:
    _registry.metrics.pop(key, None)


def customer_metrics() -> list[CustomerMetric]:
    return sorted(_registry.metrics.values(), key=lambda m: m.order)


def add_timeline_kind(kind: TimelineKind) -> None:
    _registry.timeline_kinds[kind.kind] = kind


def timeline_kind(kind: str) -> TimelineKind | None:
    return _registry.timeline_kinds.get(kind)


def add_demo_loader(loader: DemoLoader) -> None:
    _registry.demo_loaders[loader.key] = loader


def demo_loaders() -> list[DemoLoader]:
    return sorted(_registry.demo_loaders.values(), key=lambda d: d.order)


def add_merge_rule(rule: MergeRule) -> None:
    if rule.strategy == MergeStrategy.CUSTOM and rule.mover is None:
        raise ValueError(f"merge rule {rule.key}: a custom rule needs a mover")
    if rule.strategy == MergeStrategy.KEEP and not rule.why:
        raise ValueError(f"merge rule {rule.key}: say why the rows stay behind")
    _registry.merge_rules[rule.key] = rule


def merge_rules() -> list[MergeRule]:
    return list(_registry.merge_rules.values())


def add_gdpr_contributor(contributor: GdprContributor) -> None:
    _registry.gdpr[contributor.key] = contributor


def gdpr_contributors() -> list[GdprContributor]:
    return sorted(_registry.gdpr.values(), key=lambda c: (c.order, c.key))


def add_import_target(target: ImportTarget) -> None:
    _registry.import_targets[target.object_type] = target


def import_targets() -> list[ImportTarget]:
    return sorted(_registry.import_targets.values(), key=lambda t: t.order)


def import_target(object_type: str) -> ImportTarget:
    """The target registered as `object_type`; LookupError when no installed app has it."""
    try:
        return _registry.import_targets[object_type]
    except KeyError:
        raise LookupError(f"Nothing can be imported as {object_type!r}") from None


def add_segment_field(segment_field: SegmentField) -> None:
    _registry.segment_fields[(segment_field.object_type, segment_field.name)] = segment_field


def segment_fields(object_type: str) -> dict[str, SegmentField]:
    """{name: field} of the fields registered for `object_type`, in registration order."""
    return {name: f for (kind, name), f in _registry.segment_fields.items() if kind == object_type}


def add_tasks(app: str, *tasks: Any) -> None:
    """Name Django Tasks (`@task()` functions) "<app>.<function>" so that a module the task
    itself imports can enqueue them: a service queues the job whose task calls that
    service back without the two modules importing each other in a circle. Apps register
    their tasks in `ready()`."""
    for task in tasks:
        _registry.tasks[f"{app}.{task.name}"] = task


def enqueue(name: str, /, *args: Any, **kwargs: Any) -> Any:
    """Enqueue the task registered as `name`; an unknown name is an error, not a no-op."""
    try:
        task = _registry.tasks[name]
    except KeyError:
        raise LookupError(
            f"No background task {name!r}: register it in the app's ready()"
        ) from None
    return task.enqueue(*args, **kwargs)


# --- Report sources (reporting) ------------------------------------------------------


@dataclass(frozen=True)
class ReportField:
    """A field a report may filter, group or sum by: `path` is the ORM path from the
    source's records ("country", "customer__country"); `kind` is "category", "date",
    "number" or "boolean"; `choices` gives the labels of a category's stored values."""

    name: str
    label: str
    path: str
    kind: str
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ReportSource:
    """One object type reports can count: the report builder offers only these fields.

    `queryset(actor=)` returns the records the actor may see (the app's scoped selector):
    every figure and drill-down starts from it. `dimensions` can be filtered and grouped
    by, `numbers` summed and averaged. `record_url(obj)` and `record_title(obj)` link a
    drilled-down record to its detail page; `columns` name the dimensions its list shows.
    """

    name: str  # "customers", "orders"
    label: str
    object_type: str
    queryset: Callable[..., Any]
    dimensions: tuple[ReportField, ...]
    record_url: Callable[[Any], str]
    record_title: Callable[[Any], str]
    numbers: tuple[ReportField, ...] = ()
    columns: tuple[str, ...] = ()
    order: int = 100


_report_sources: dict[str, ReportSource] = {}


def add_report_source(source: ReportSource) -> None:
    _report_sources[source.name] = source


def report_sources() -> list[ReportSource]:
    return sorted(_report_sources.values(), key=lambda s: (s.order, s.label))


def report_source(name: str) -> ReportSource | None:
    return _report_sources.get(name)


def set_person_matcher(matcher: Callable[..., list[tuple[int, float]]]) -> None:
    """The on-create duplicate check (dedupe's `likely_duplicates`: keyword arguments
    first_name, last_name, email, phone, limit; returns [(customer id, probability)]), so
    lower apps (sales' leads) match people without importing the app above them."""
    _registry.person_matcher = matcher


def person_matcher() -> Callable[..., list[tuple[int, float]]] | None:
    return _registry.person_matcher
