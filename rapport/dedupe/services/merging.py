"""Merging two customers into one, and undoing it exactly.

`customer_merge` keeps one record (the survivor), fills its fields by a survivorship rule
(most complete record, most recent record, or the reviewer's pick per field), moves every
row that points at the other record (timeline, consents, contact points, tags,
relationships, orders, and whatever later apps register with `registry.add_merge_rule`)
and leaves the other as a tombstone (`merged_into`), all in one transaction with audit
rows, a timeline entry and a `customer.merged` event. `customer_unmerge` moves back
exactly what the merge moved and restores what it changed.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from django.apps import apps
from django.core import serializers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import capfirst

from rapport.core import audit, outbox, registry
from rapport.core.errors import Conflict
from rapport.core.models import AuditAction
from rapport.core.permissions import acting_user, can, require, system_actor
from rapport.customers import services as customer_services
from rapport.customers.models import Channel, Customer, InteractionKind
from rapport.customers.schemas import customer_payload
from rapport.dedupe.models import (
    CustomerMerge,
    DedupeSettings,
    DuplicatePair,
    MergeStatus,
    PairStatus,
    SurvivorshipRule,
)

# The survivor's own fields a merge may fill from either record, with their labels (the
# model's verbose names). Contact points, tags and relationships are not chosen: the
# survivor keeps all of both.
MERGED_FIELDS: dict[str, str] = {
    field.attname: capfirst(str(field.verbose_name))
    for field in (
        cast("models.Field[Any, Any]", Customer._meta.get_field(name))
        # The kind cannot change and external ids follow their own rule (see below).
        for name in [
            *(f for f in customer_services.SCALAR_FIELDS if f not in ("kind", "external_id")),
            "owner",
            "team",
        ]
    )
}
CUSTOM_PREFIX = "custom_fields."
SIDES = ("survivor", "loser")
ID_CHUNK = 5_000


@dataclass(frozen=True)
class FieldPlan:
    """One field of the merged record: both values and which side the result takes."""

    name: str
    label: str
    survivor_value: Any
    loser_value: Any
    source: str  # "survivor" or "loser"

    @property
    def value(self) -> Any:
        return self.survivor_value if self.source == "survivor" else self.loser_value

    @property
    def differs(self) -> bool:
        return self.survivor_value != self.loser_value


@dataclass(frozen=True)
class MergePlan:
    fields: list[FieldPlan]
    preferred: str  # the side the rule prefers where both records have a value
    moves: dict[str, int]  # {"Timeline entries": 12, ...}: what the loser brings along


def _filled(value: Any) -> bool:
    return value not in (None, "", [], {})


def completeness(customer: Customer) -> int:
    """How many of the fields people care about the record has: the "most complete" rule."""
    score = sum(_filled(getattr(customer, name)) for name in MERGED_FIELDS)
    score += sum(_filled(v) for v in (customer.custom_fields or {}).values())
    return score + sum(
        _filled(v) for v in (customer.primary_email, customer.primary_phone, customer.city)
    )


def _custom_keys(survivor: Customer, loser: Customer) -> list[str]:
    keys = dict.fromkeys([*(survivor.custom_fields or {}), *(loser.custom_fields or {})])
    return sorted(keys)


def _value(customer: Customer, name: str) -> Any:
    if name.startswith(CUSTOM_PREFIX):
        return (customer.custom_fields or {}).get(name[len(CUSTOM_PREFIX) :])
    return getattr(customer, name)


def _check_choices(choices: Mapping[str, str], allowed: Iterable[str]) -> dict[str, str]:
    known = set(allowed)
    errors = {}
    for name, side in choices.items():
        if name not in known:
            errors[f"choices.{name}"] = f"{name!r} is not a field a merge can choose."
        elif side not in SIDES:
            errors[f"choices.{name}"] = f"Choose 'survivor' or 'loser', not {side!r}."
    if errors:
        raise ValidationError(errors)
    return dict(choices)


def plan_merge(
    *,
    survivor: Customer,
    loser: Customer,
    rule: str = SurvivorshipRule.MOST_COMPLETE,
    choices: Mapping[str, str] | None = None,
) -> MergePlan:
    """What merging `loser` into `survivor` would give, field by field (no writes)."""
    if rule not in SurvivorshipRule.values:
        raise ValidationError({"rule": f"Unknown survivorship rule {rule!r}."})
    custom = [CUSTOM_PREFIX + key for key in _custom_keys(survivor, loser)]
    labels = {**MERGED_FIELDS, **{name: name[len(CUSTOM_PREFIX) :] for name in custom}}
    picked = _check_choices(choices or {}, labels)
    if rule == SurvivorshipRule.MOST_RECENT:
        prefer_loser = loser.updated_at > survivor.updated_at
    else:
        prefer_loser = completeness(loser) > completeness(survivor)
    preferred = "loser" if prefer_loser else "survivor"
    plans = []
    for name, label in labels.items():
        mine, theirs = _value(survivor, name), _value(loser, name)
        if name in picked:
            source = picked[name]
        elif mine == theirs:
            source = "survivor"
        elif prefer_loser:
            source = "loser" if _filled(theirs) else "survivor"
        else:
            source = "survivor" if _filled(mine) else "loser"
        plans.append(FieldPlan(name, label, mine, theirs, source))
    return MergePlan(fields=plans, preferred=preferred, moves=related_counts(loser))


def _rule_model(rule: registry.MergeRule) -> type[models.Model]:
    return apps.get_model(rule.model)


def _label(rule: registry.MergeRule) -> str:
    return rule.label or str(_rule_model(rule)._meta.verbose_name_plural).capitalize()


def related_counts(customer: Customer) -> dict[str, int]:
    """Rows that point at `customer`, per kind of row, for the rules that move them."""
    counts: dict[str, int] = {}
    for rule in registry.merge_rules():
        if rule.strategy == registry.MergeStrategy.KEEP:
            continue
        model = _rule_model(rule)
        n = model._default_manager.filter(**{rule.field: customer.pk}).count()
        if n:
            label = _label(rule)
            counts[label] = counts.get(label, 0) + n
    return counts


def _serialize(rows: Iterable[models.Model]) -> list[dict[str, Any]]:
    rows = list(rows)
    if not rows:
        return []
    parsed: list[dict[str, Any]] = json.loads(serializers.serialize("json", rows))
    return parsed


def _restore(rows: list[dict[str, Any]]) -> None:
    """Save rows back as they were. Foreign keys are checked first: databases defer that
    check to commit, where a row pointing at something deleted since (a tag, an
    organization) would fail the whole undo with an unreadable error."""
    if not rows:
        return
    objects = [d.object for d in serializers.deserialize("json", json.dumps(rows))]
    for obj in objects:
        for field in obj._meta.concrete_fields:
            target = getattr(obj, field.attname)
            if not field.is_relation or target is None or field.related_model is None:
                continue
            related: Any = field.related_model
            if not related._default_manager.filter(pk=target).exists():
                raise ValidationError(
                    {
                        "merge": f"The {related._meta.verbose_name} #{target} that a "
                        f"{obj._meta.verbose_name} of this merge pointed at was deleted "
                        "since, so the merge cannot be undone."
                    }
                )
    for obj in objects:
        obj.save_base(raw=True)


def _customer_fks(model: type[models.Model], but: str) -> list[str]:
    return [
        f.attname
        for f in model._meta.concrete_fields
        if f.is_relation and f.related_model is Customer and f.name != but
    ]


@dataclass
class _Moves:
    moved_ids: dict[str, list[int]]
    rows_before: list[dict[str, Any]]
    rows_deleted: list[dict[str, Any]]
    summary: dict[str, int]

    def count(self, rule: registry.MergeRule, n: int) -> None:
        if n:
            label = _label(rule)
            self.summary[label] = self.summary.get(label, 0) + n


def _move_rows(
    rule: registry.MergeRule, survivor: Customer, loser: Customer, moves: _Moves
) -> None:
    model = _rule_model(rule)
    manager = model._default_manager
    fk = model._meta.get_field(rule.field)
    attname = fk.attname  # type: ignore[union-attr]
    key_names = [model._meta.get_field(n).attname for n in rule.unique_with]  # type: ignore[union-attr]
    other_fks = _customer_fks(model, rule.field)
    rows = list(manager.filter(**{attname: loser.pk}).order_by("pk"))
    if not rows:
        return

    def key_of(row: models.Model) -> Hashable:
        if rule.same_as is not None:
            return rule.same_as(row)
        return tuple(getattr(row, n) for n in key_names)

    keyed = rule.same_as is not None or bool(key_names)
    survivor_rows = list(manager.filter(**{attname: survivor.pk}))
    taken = {key_of(row) for row in survivor_rows}
    survivor_has_rows = bool(survivor_rows)
    moves.rows_before.extend(_serialize(rows))
    doomed, moved = [], 0
    for row in rows:
        key = key_of(row)
        links_itself = any(getattr(row, name) == survivor.pk for name in other_fks)
        if links_itself or (keyed and key in taken):
            doomed.append(row.pk)
            continue
        taken.add(key)
        changes: dict[str, Any] = {attname: survivor.pk}
        if survivor_has_rows:
            changes.update(dict(rule.reset_on_move))
        manager.filter(pk=row.pk).update(**changes)
        moved += 1
    if doomed:
        # They are in rows_before, so unmerge puts them back with their original values.
        label = model._meta.label_lower
        moves.rows_deleted.extend({"model": label, "pk": pk} for pk in doomed)
        manager.filter(pk__in=doomed).delete()
    moves.count(rule, moved)


def _move_all(rule: registry.MergeRule, survivor: Customer, loser: Customer, moves: _Moves) -> None:
    model = _rule_model(rule)
    manager = model._default_manager
    ids = list(manager.filter(**{rule.field: loser.pk}).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), ID_CHUNK):
        manager.filter(pk__in=ids[start : start + ID_CHUNK]).update(**{rule.field: survivor.pk})
    moves.moved_ids[rule.key] = ids
    moves.count(rule, len(ids))


def _move_related(actor: Any, survivor: Customer, loser: Customer) -> _Moves:
    moves = _Moves(moved_ids={}, rows_before=[], rows_deleted=[], summary={})
    for rule in registry.merge_rules():
        if rule.strategy == registry.MergeStrategy.MOVE_ALL:
            _move_all(rule, survivor, loser, moves)
        elif rule.strategy == registry.MergeStrategy.MOVE_ROWS:
            _move_rows(rule, survivor, loser, moves)
        elif rule.strategy == registry.MergeStrategy.CUSTOM:
            assert rule.mover is not None
            ids = rule.mover(actor=actor, source=loser, target=survivor)
            moves.moved_ids[rule.key] = list(ids)
            moves.count(rule, len(ids))
    return moves


def _lock_pair(survivor: Customer, loser: Customer) -> tuple[Customer, Customer]:
    # Always lock in id order so two merges of the same records cannot deadlock.
    locked = {
        c.pk: c
        for c in Customer.objects.select_for_update()
        .filter(pk__in=[survivor.pk, loser.pk])
        .order_by("pk")
    }
    return locked[survivor.pk], locked[loser.pk]


def _check_mergeable(survivor: Customer, loser: Customer) -> None:
    if survivor.pk == loser.pk:
        raise ValidationError({"loser": "A customer cannot be merged into itself."})
    if survivor.kind != loser.kind:
        raise ValidationError(
            {"loser": "A person and an organization cannot be merged; link them instead."}
        )
    for customer in (survivor, loser):
        if customer.merged_into_id is not None:
            raise ValidationError(
                {"loser": f"{customer.display_name} was already merged into another record."}
            )
        if customer.erased_at is not None:
            raise ValidationError({"loser": "An erased person's record cannot be merged."})


def _set_value(customer: Customer, name: str, value: Any) -> None:
    if name.startswith(CUSTOM_PREFIX):
        custom = dict(customer.custom_fields or {})
        key = name[len(CUSTOM_PREFIX) :]
        if value is None:
            custom.pop(key, None)
        else:
            custom[key] = value
        customer.custom_fields = custom
        return
    field = Customer._meta.get_field(name)  # accepts attnames ("owner_id") too
    if isinstance(field, models.ForeignKey):
        value = None if value is None else field.target_field.to_python(value)
    else:
        value = field.to_python(value)  # type: ignore[union-attr]
    setattr(customer, name, value)


def _jsonable(value: Any) -> Any:
    return audit._jsonable(value)


def _find_pair(survivor: Customer, loser: Customer) -> DuplicatePair | None:
    a, b = sorted([survivor.pk, loser.pk])
    return DuplicatePair.objects.filter(customer_a_id=a, customer_b_id=b).first()


def merge_payload(merge: CustomerMerge) -> dict[str, Any]:
    return {
        "id": merge.pk,
        "survivor_id": merge.survivor_id,
        "loser_id": merge.loser_id,
        "status": merge.status,
        "rule": merge.rule,
        "choices": merge.choices,
        "automatic": merge.automatic,
        "changed_fields": sorted(merge.survivor_changes),
        "moved": merge.summary,
        "merged_at": merge.merged_at.isoformat(),
        "undone_at": merge.undone_at.isoformat() if merge.undone_at else None,
        "pair_id": merge.pair_id,
    }


@transaction.atomic
def customer_merge(
    *,
    actor: Any,
    survivor: Customer,
    loser: Customer,
    rule: str = SurvivorshipRule.MOST_COMPLETE,
    choices: Mapping[str, str] | None = None,
    survivor_version: int | None = None,
    loser_version: int | None = None,
    automatic: bool = False,
) -> CustomerMerge:
    """Merge `loser` into `survivor`; everything pointing at `loser` moves to `survivor`.

    Needs edit rights on the survivor and delete rights on the record merged away (it
    disappears from every list, as a deletion would). Stale versions are refused.
    """
    survivor, loser = _lock_pair(survivor, loser)
    require(actor, "edit", survivor)
    require(actor, "delete", loser)
    for customer, expected in ((survivor, survivor_version), (loser, loser_version)):
        if expected is not None and customer.version != expected:
            raise Conflict()
    _check_mergeable(survivor, loser)
    plan = plan_merge(survivor=survivor, loser=loser, rule=rule, choices=choices)
    before = customer_services._audited(customer_services._prefetched(survivor))

    loser_changes: dict[str, list[Any]] = {"merged_into_id": [None, survivor.pk]}
    survivor_changes: dict[str, list[Any]] = {}
    for field in plan.fields:
        if field.source == "loser" and field.differs:
            survivor_changes[field.name] = [_jsonable(field.survivor_value), _jsonable(field.value)]
            _set_value(survivor, field.name, field.value)
    if "lifecycle_stage" in survivor_changes:
        survivor_changes["lifecycle_changed_at"] = [
            _jsonable(survivor.lifecycle_changed_at),
            _jsonable(loser.lifecycle_changed_at),
        ]
        survivor.lifecycle_changed_at = loser.lifecycle_changed_at
    # External ids are unique: the survivor takes the other's only when it has none.
    if loser.external_id and not survivor.external_id:
        survivor_changes["external_id"] = [None, loser.external_id]
        loser_changes["external_id"] = [loser.external_id, None]
        survivor.external_id = loser.external_id
        loser.external_id = None

    loser.merged_into = survivor
    loser.version = F("version") + 1
    loser.save(update_fields=["merged_into", "external_id", "version", "updated_at"])
    moves = _move_related(actor, survivor, loser)
    customer_services.refresh_derived_fields(survivor)
    survivor.version = F("version") + 1
    survivor.save()
    survivor.refresh_from_db()

    pair = _find_pair(survivor, loser)
    if pair is not None and pair.status == PairStatus.OPEN:
        DuplicatePair.objects.filter(pk=pair.pk).update(
            status=PairStatus.MERGED, decided_at=timezone.now(), decided_by=acting_user(actor)
        )
    merge = CustomerMerge.objects.create(
        survivor=survivor,
        loser=loser,
        pair=pair if pair is not None and pair.status == PairStatus.OPEN else None,
        rule=rule,
        choices=dict(choices or {}),
        automatic=automatic,
        survivor_changes=survivor_changes,
        loser_changes=loser_changes,
        moved_ids=moves.moved_ids,
        rows_before=moves.rows_before,
        rows_deleted=moves.rows_deleted,
        summary=moves.summary,
        merged_by=acting_user(actor),
    )
    moved_text = ", ".join(f"{n} {label.lower()}" for label, n in moves.summary.items())
    customer_services.interaction_record(
        actor=actor,
        customer=survivor,
        kind=InteractionKind.MERGE,
        channel=Channel.SYSTEM,
        summary=f"Merged {loser.display_name} (#{loser.pk}) into this record"
        + (f": {moved_text} moved" if moved_text else ""),
        data={"merge_id": merge.pk, "loser_id": loser.pk, "automatic": automatic},
        source=merge,
    )
    after = customer_services._audited(customer_services._prefetched(survivor))
    audit.record(
        actor=actor,
        action=AuditAction.MERGE,
        obj=survivor,
        changes={"merged": [None, loser.pk], **audit.diff(before, after)},
    )
    audit.record(actor=actor, action=AuditAction.MERGE, obj=loser, changes=loser_changes)
    outbox.emit(
        "customer.merged",
        {
            **merge_payload(merge),
            "survivor": customer_payload(customer_services._prefetched(survivor)),
        },
        aggregate=survivor,
    )
    return merge


def _check_undoable(merge: CustomerMerge, survivor: Customer) -> None:
    if merge.status != MergeStatus.MERGED:
        raise ValidationError({"merge": "This merge was already undone."})
    if merge.erased_at is not None:
        raise ValidationError(
            {"merge": "A person's data was erased since this merge, so it cannot be undone."}
        )
    if survivor.merged_into_id is not None:
        raise ValidationError(
            {
                "merge": f"{survivor.display_name} was itself merged into another record "
                "since; undo that merge first."
            }
        )


@transaction.atomic
def customer_unmerge(*, actor: Any, merge: CustomerMerge) -> CustomerMerge:
    """Undo `merge`: both records and every link come back as they were before it.

    A field of the survivor changed again after the merge keeps its newer value (the
    audit row lists it under `kept`); everything else returns exactly.
    """
    merge = CustomerMerge.objects.select_for_update().get(pk=merge.pk)
    survivor, loser = _lock_pair(merge.survivor, merge.loser)
    require(actor, "edit", survivor)
    if not can(actor, "edit", loser):
        raise PermissionDenied("You may not edit the record this merge folded in.")
    _check_undoable(merge, survivor)

    for rule in reversed(registry.merge_rules()):
        ids = merge.moved_ids.get(rule.key, [])
        if rule.strategy == registry.MergeStrategy.CUSTOM and ids:
            assert rule.mover is not None
            rule.mover(actor=actor, source=survivor, target=loser, ids=ids)
        elif rule.strategy == registry.MergeStrategy.MOVE_ALL:
            manager = _rule_model(rule)._default_manager
            for start in range(0, len(ids), ID_CHUNK):
                manager.filter(
                    pk__in=ids[start : start + ID_CHUNK], **{rule.field: survivor.pk}
                ).update(**{rule.field: loser.pk})
    _restore(merge.rows_before)

    kept = []
    for name, (old, new) in merge.survivor_changes.items():
        if _jsonable(_value(survivor, name)) == new:
            _set_value(survivor, name, old)
        else:
            kept.append(name)
    loser.merged_into = None
    if "external_id" in merge.loser_changes:
        if "external_id" not in kept:
            survivor.external_id = None
            survivor.save(update_fields=["external_id"])
            loser.external_id = merge.loser_changes["external_id"][0]
        else:
            kept.append("loser.external_id")
    for customer in (survivor, loser):
        customer_services.refresh_derived_fields(customer)
        customer.version = F("version") + 1
        customer.save()
        customer.refresh_from_db()

    if merge.pair_id is not None:
        DuplicatePair.objects.filter(pk=merge.pair_id).update(
            status=PairStatus.OPEN, decided_at=None, decided_by=None
        )
    merge.status = MergeStatus.UNDONE
    merge.undone_at = timezone.now()
    merge.undone_by = acting_user(actor)
    merge.save(update_fields=["status", "undone_at", "undone_by"])
    for customer, other in ((survivor, loser), (loser, survivor)):
        customer_services.interaction_record(
            actor=actor,
            customer=customer,
            kind=InteractionKind.MERGE,
            channel=Channel.SYSTEM,
            summary=f"Merge with {other.display_name} (#{other.pk}) undone",
            data={"merge_id": merge.pk, "undone": True},
            source=merge,
        )
        audit.record(
            actor=actor,
            action=AuditAction.UNMERGE,
            obj=customer,
            changes={"merge": [merge.pk, None], **({"kept": [None, kept]} if kept else {})},
        )
    outbox.emit(
        "customer.unmerged",
        {
            **merge_payload(merge),
            "kept_fields": kept,
            "survivor": customer_payload(customer_services._prefetched(survivor)),
            "restored": customer_payload(customer_services._prefetched(loser)),
        },
        aggregate=survivor,
    )
    return merge


def scrub_for_erasure(*, customer_id: int) -> int:
    """Drop the saved rows and values of merges involving an erased person (GDPR).

    Keeps the fact of the merge; such a merge can no longer be undone.
    """
    return (
        CustomerMerge.objects.filter(
            models.Q(survivor_id=customer_id) | models.Q(loser_id=customer_id)
        )
        .filter(erased_at__isnull=True)
        .update(
            survivor_changes={},
            loser_changes={},
            rows_before=[],
            rows_deleted=[],
            choices={},
            erased_at=timezone.now(),
        )
    )


@transaction.atomic
def dedupe_settings_update(
    *, actor: Any, auto_merge_enabled: bool, auto_merge_threshold: float, auto_merge_rule: str
) -> DedupeSettings:
    """Admins only: turn auto-merge on or off and set its threshold (at least 0.9)."""
    if not getattr(actor, "is_admin", False):
        raise PermissionDenied("Only an administrator may change duplicate settings.")
    errors = {}
    if not 0.9 <= auto_merge_threshold <= 1.0:
        errors["auto_merge_threshold"] = (
            "Auto-merge needs a threshold between 0.9 and 1: below that, people should review."
        )
    if auto_merge_rule not in SurvivorshipRule.values:
        errors["auto_merge_rule"] = f"Unknown survivorship rule {auto_merge_rule!r}."
    if errors:
        raise ValidationError(errors)
    current = DedupeSettings.objects.select_for_update().get(pk=DedupeSettings.current().pk)
    before = audit.snapshot(
        current, ["auto_merge_enabled", "auto_merge_threshold", "auto_merge_rule"]
    )
    current.auto_merge_enabled = auto_merge_enabled
    current.auto_merge_threshold = auto_merge_threshold
    current.auto_merge_rule = auto_merge_rule
    current.updated_at = timezone.now()
    current.updated_by = acting_user(actor)
    current.save()
    changes = audit.diff(before, audit.snapshot(current, list(before)))
    if changes:
        audit.record(actor=actor, action=AuditAction.UPDATE, obj=current, changes=changes)
    return current


def auto_merge(*, limit: int = 10_000) -> int:
    """Merge the open pairs at or above the admin's threshold, when auto-merge is on.

    The older record survives (integrations most likely know its id). Each merge is its own
    transaction, so one refused pair (a stale or erased record) does not stop the rest,
    and each can be undone like a reviewed one.
    """
    config = DedupeSettings.current()
    if not config.auto_merge_enabled:
        return 0
    actor = system_actor()
    pairs = list(
        DuplicatePair.objects.filter(
            status=PairStatus.OPEN, probability__gte=config.auto_merge_threshold
        )
        .order_by("-probability", "-id")
        .values_list("pk", "customer_a_id", "customer_b_id")[:limit]
    )
    merged = 0
    for _pk, a, b in pairs:
        survivor = Customer.objects.filter(pk=a, merged_into__isnull=True).first()
        loser = Customer.objects.filter(pk=b, merged_into__isnull=True).first()
        if survivor is None or loser is None:
            continue
        try:
            customer_merge(
                actor=actor,
                survivor=survivor,
                loser=loser,
                rule=config.auto_merge_rule,
                automatic=True,
            )
        except ValidationError:
            continue
        merged += 1
    return merged
