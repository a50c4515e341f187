from __future__ import annotations

import pytest

from rapport.core.permissions import Scope
from rapport.identity.tests.factories import TeamFactory, UserFactory, user_with


@pytest.fixture
def admin(db):
    return UserFactory(is_superuser=True, is_staff=True)


@pytest.fixture
def teams(db):
    return TeamFactory(name="North"), TeamFactory(name="South")


@pytest.fixture
def scoped_users(teams):
    """One user per scope: `own` and `team` in North, `all` read-only-ish full access."""
    north, _ = teams
    return {
        "own": user_with(Scope.OWN, teams=[north]),
        "team": user_with(Scope.TEAM, teams=[north]),
        "all": user_with(Scope.ALL),
    }
