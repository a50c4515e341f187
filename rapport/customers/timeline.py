"""Grouping a timeline page by what its entries belong to: an order's shipment updates show
under the order instead of flooding the timeline. The kinds and their grouping come from
the apps that write them (`registry.TimelineKind`), so this module knows no commerce."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.translation import ngettext

from rapport.core import registry
from rapport.customers.models import Interaction


@dataclass
class TimelineItem:
    entry: Interaction  # the headline: the group's anchor, else its newest entry
    folded: list[Interaction] = field(default_factory=list)  # newest first
    label: str = ""  # what the folded entries are: "3 shipment updates"


def group(entries: Sequence[Interaction]) -> list[TimelineItem]:
    """One item per entry, except that entries sharing a group key on this page become one
    item at the newest one's place. A group cut by the page end continues on the next page
    as its own item (keyset pages cannot look ahead without reading further)."""
    keys: dict[int, str] = {}
    anchors: dict[str, Interaction] = {}
    for entry in entries:
        kind = registry.timeline_kind(entry.kind)
        key = kind.group_key(entry) if kind else None
        if key:
            keys[entry.pk] = key
            if kind and kind.anchor and key not in anchors:
                anchors[key] = entry
    items: list[TimelineItem] = []
    by_key: dict[str, TimelineItem] = {}
    for entry in entries:
        key = keys.get(entry.pk)
        if key is None:
            items.append(TimelineItem(entry=entry))
            continue
        if key not in by_key:
            by_key[key] = TimelineItem(entry=anchors.get(key, entry))
            items.append(by_key[key])
        item = by_key[key]
        if entry is not item.entry:
            item.folded.append(entry)
    for item in items:
        if item.folded:
            kind = registry.timeline_kind(item.folded[0].kind)
            n = len(item.folded)
            item.label = (
                kind.label(n)
                if kind and kind.label
                else ngettext("%(n)d more entry", "%(n)d more entries", n) % {"n": n}
            )
    return items
