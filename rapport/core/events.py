"""The catalogue of domain event types. Apps register theirs in their `events.py`;
webhooks and journeys offer exactly these types to subscribe to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    name: str
    description: str


_catalogue: dict[str, EventType] = {}


def register(name: str, description: str) -> EventType:
    event_type = EventType(name=name, description=description)
    _catalogue[name] = event_type
    return event_type


def register_crud(object_name: str, label: str) -> None:
    """Register the created/updated/deleted trio for one object type."""
    for verb in ("created", "updated", "deleted"):
        register(f"{object_name}.{verb}", f"A {label} was {verb}.")


def catalogue() -> list[EventType]:
    return sorted(_catalogue.values(), key=lambda e: e.name)


def is_registered(name: str) -> bool:
    return name in _catalogue
