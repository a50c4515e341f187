"""Collection fixes for the core tests."""

from __future__ import annotations

from typing import Any


def pytest_collection_modifyitems(items: list[Any]) -> None:
    """Give each schemathesis operation test its own node id.

    schemathesis 4.32 names its items `test[GET /api/v1/persons]`, but pytest 9 builds node
    ids from the original name and the parametrization only, so every operation got the
    same id: reports could not tell them apart and pytest-xdist counted them as one.
    """
    for item in items:
        label = getattr(item, "operation_label", None)
        if label and item._id.params is None:
            item._id = item._id.with_params(label)
