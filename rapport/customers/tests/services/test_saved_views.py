"""Saved list views."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.customers import selectors, services

pytestmark = pytest.mark.django_db


def test_saved_views_are_checked_and_private_unless_shared(scoped_users, admin):
    rep, other = scoped_users["own"], scoped_users["all"]
    with pytest.raises(ValidationError):
        services.saved_view_create(actor=rep, name="Bad", params={"colour": "red"})
    mine = services.saved_view_create(
        actor=rep,
        name="My leads",
        params={"lifecycle_stage": ["lead"], "sort": ["-created"], "cursor": ["x"]},
    )
    assert mine.params == {"lifecycle_stage": "lead", "sort": "-created"}
    shared = services.saved_view_create(
        actor=other, name="Everyone's", params={"kind": "person"}, is_shared=True
    )
    assert set(selectors.saved_views(actor=rep)) == {mine, shared}
    assert set(selectors.saved_views(actor=other)) == {shared}
    with pytest.raises(PermissionDenied):
        services.saved_view_delete(actor=rep, view=shared)
