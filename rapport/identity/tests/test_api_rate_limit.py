"""The per-key API rate limit: counted in the shared cache, batched per process."""

from __future__ import annotations

import pytest

from rapport.identity import auth


@pytest.fixture(autouse=True)
def _fresh_windows(monkeypatch):
    monkeypatch.setattr(auth, "_windows", {})


def test_parse_rate():
    assert auth.parse_rate("6000/m") == (6000, 60)
    assert auth.parse_rate("100/5m") == (100, 300)
    assert auth.parse_rate("10/s") == (10, 1)
    with pytest.raises(ValueError):
        auth.parse_rate("lots")


def test_small_limits_are_counted_exactly():
    results = [auth.over_rate_limit(1, "5/m") for _ in range(7)]
    assert results == [False] * 5 + [True] * 2


def test_processes_share_one_budget_through_the_cache(monkeypatch):
    """Two workers (each with its own in-process batch) together hit the limit."""
    limit = 1000  # batches of 10
    worker_a: dict = {}
    worker_b: dict = {}
    monkeypatch.setattr(auth, "_windows", worker_a)
    assert not any(auth.over_rate_limit(7, f"{limit}/m") for _ in range(600))
    monkeypatch.setattr(auth, "_windows", worker_b)
    answers = [auth.over_rate_limit(7, f"{limit}/m") for _ in range(600)]
    first_refusal = answers.index(True)
    # Worker B sees worker A's 600 requests: it is refused after about 400 of its own,
    # give or take one batch (10) per worker.
    assert 380 <= first_refusal <= 420
    assert all(answers[first_refusal + 20 :])


def test_keys_have_separate_budgets():
    assert [auth.over_rate_limit(1, "2/m") for _ in range(3)] == [False, False, True]
    assert auth.over_rate_limit(2, "2/m") is False
