"""What each domain app contributes to the shared shell: navigation entries, object types
that roles grant access to, global-search providers and panels on the customer 360 page.

Apps register in AppConfig.ready(), so a later app plugs in without touching the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse


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

    @property
    def href(self) -> str:
        return reverse(self.url_name, args=self.url_args)


@dataclass(frozen=True)
class ObjectType:
    name: str  # "customers.person"
    label: str
    label_plural: str
    actions: tuple[str, ...] = ("view", "create", "edit", "delete", "export")


@dataclass(frozen=True)
class SearchProvider:
    key: str
    label: str
    search: Callable[..., list[Any]]  # (actor=, query=, limit=) -> list[SearchHit]
    order: int = 100


@dataclass(frozen=True)
class SearchHit:
    title: str
    subtitle: str
    url: str
    kind: str


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
class DemoLoader:
    key: str
    load: Callable[..., str]  # (stdout=) -> one line saying what it loaded
    order: int = 100


@dataclass
class _Registry:
    nav: dict[str, NavItem] = field(default_factory=dict)
    object_types: dict[str, ObjectType] = field(default_factory=dict)
    search: dict[str, SearchProvider] = field(default_factory=dict)
    panels: dict[str, Panel] = field(default_factory=dict)
    demo_loaders: dict[str, DemoLoader] = field(default_factory=dict)


_registry = _Registry()


def add_nav(item: NavItem) -> None:
    _registry.nav[item.key] = item


def nav_items() -> list[NavItem]:
    return sorted(_registry.nav.values(), key=lambda i: i.order)


def add_object_type(object_type: ObjectType) -> None:
    _registry.object_types[object_type.name] = object_type


def object_types() -> list[ObjectType]:
    return sorted(_registry.object_types.values(), key=lambda o: o.label)


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


def add_demo_loader(loader: DemoLoader) -> None:
    _registry.demo_loaders[loader.key] = loader


def demo_loaders() -> list[DemoLoader]:
    return sorted(_registry.demo_loaders.values(), key=lambda d: d.order)
