"""Template context for the shell: navigation filtered by what the user may see."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from rapport.core import registry


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"nav_items": visible_nav_items(user)}


def visible_nav_items(user: Any) -> list[registry.NavItem]:
    """The navigation entries for object types the user may view."""
    return [
        item
        for item in registry.nav_items()
        if item.object_type is None or user.grant_for(item.object_type).allows("view")
    ]
