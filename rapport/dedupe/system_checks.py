"""System check: every foreign key to the customer has a merge rule.

A relation nobody decided on would leave its rows on a merged-away record that no list
shows, so `rapport check` (and the test suite) fails until the owning app registers a
`registry.MergeRule` for it.
"""

from __future__ import annotations

from typing import Any

from django.core import checks

from rapport.core import registry


def customer_relations() -> list[str]:
    """Keys ("app.model.field") of every foreign key that points at the customer."""
    from rapport.customers.models import Customer

    relations: list[Any] = [
        rel
        for rel in Customer._meta.get_fields(include_hidden=True)
        if rel.is_relation and rel.auto_created and not rel.concrete and not rel.many_to_many
    ]
    return sorted(f"{rel.related_model._meta.label_lower}.{rel.field.name}" for rel in relations)


def unhandled(relations: list[str], rules: list[registry.MergeRule]) -> list[str]:
    handled = {rule.key for rule in rules}
    return [key for key in relations if key not in handled]


def merge_rules_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return [
        checks.Error(
            f"{key} points at the customer but has no merge rule.",
            hint="Register a rapport.core.registry.MergeRule for it in the app's ready() "
            "(see docs/data-quality.md, 'Merge rules').",
            id="dedupe.E001",
        )
        for key in unhandled(customer_relations(), registry.merge_rules())
    ]
