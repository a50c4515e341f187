"""Duplicates pages: queue scope, compare, merge, dismiss, undo, settings, auto-merge."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from rapport.core.permissions import Scope
from rapport.customers.models import Customer, Interaction
from rapport.customers.tests.factories import person
from rapport.dedupe.models import (
    CustomerMerge,
    DedupeSettings,
    DuplicatePair,
    DuplicateRun,
    PairStatus,
    RunMode,
    RunStatus,
)
from rapport.dedupe.services import merging
from rapport.identity.tests.factories import UserFactory, user_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return UserFactory(is_superuser=True, is_staff=True)


def _pair(a, b, p=0.97):
    a, b = sorted([a, b], key=lambda c: c.pk)
    return DuplicatePair.objects.create(
        customer_a=a, customer_b=b, probability=p, match_weight=9, details={"name": "exact"}
    )


def test_queue_shows_only_pairs_the_user_may_see_both_sides_of(client, admin):
    rep = user_with(Scope.OWN)
    mine_a, mine_b = person(rep, "Ada", "Lovelace"), person(rep, "Ada", "Byron")
    secret = person(admin, "Ada", "Secretive")
    _pair(mine_a, mine_b)
    hidden = _pair(mine_a, secret, 0.99)
    client.force_login(rep)
    html = client.get(reverse("dedupe:queue")).content.decode()
    assert "Ada Byron" in html and "Secretive" not in html
    assert client.get(reverse("dedupe:compare", args=[hidden.pk])).status_code == 404


def test_queue_empty_state_and_admin_settings(client, admin):
    client.force_login(admin)
    html = client.get(reverse("dedupe:queue")).content.decode()
    assert "No possible duplicates to review" in html and "Auto-merge" in html
    rep = user_with(Scope.OWN)
    client.force_login(rep)
    assert "Auto-merge" not in client.get(reverse("dedupe:queue")).content.decode()
    response = client.post(
        reverse("dedupe:settings"),
        {
            "auto_merge_enabled": "on",
            "auto_merge_threshold": "0.95",
            "auto_merge_rule": "most_recent",
        },
    )
    assert response.status_code == 403 and not DedupeSettings.current().auto_merge_enabled


def test_compare_then_merge_with_a_per_field_pick(client, admin):
    a = person(admin, "Ada", "Lovelace", job_title="Countess")
    b = person(admin, "Ada", "King", job_title="Analyst")
    pair = _pair(a, b)
    client.force_login(admin)
    html = client.get(reverse("dedupe:compare", args=[pair.pk])).content.decode()
    assert 'name="pick_job_title"' in html and "Countess" in html and "Analyst" in html
    response = client.post(
        reverse("dedupe:merge"),
        {
            "a": a.pk,
            "b": b.pk,
            "keep": "a",
            "rule": "most_complete",
            "pick_job_title": "b",
            "pick_last_name": "a",
            "version_a": a.version,
            "version_b": b.version,
        },
    )
    assert response.status_code == 302 and response["Location"] == a.get_absolute_url()
    a.refresh_from_db()
    assert (a.last_name, a.job_title) == ("Lovelace", "Analyst")
    assert Customer.objects.get(pk=b.pk).merged_into_id == a.pk
    assert DuplicatePair.objects.get(pk=pair.pk).status == PairStatus.MERGED
    detail = client.get(a.get_absolute_url()).content.decode()
    assert "Merged in" in detail and "Undo merge" in detail


def test_a_stale_compare_page_does_not_merge(client, admin):
    a = person(admin, "Ada", "Lovelace")
    b = person(admin, "Ada", "Lovelace")
    client.force_login(admin)
    response = client.post(
        reverse("dedupe:merge"),
        {
            "a": a.pk,
            "b": b.pk,
            "keep": "a",
            "version_a": a.version,
            "version_b": b.version - 1 or 99,
        },
        follow=True,
    )
    assert "changed while you were comparing" in response.content.decode()
    assert Customer.objects.get(pk=b.pk).merged_into_id is None


def test_dismiss_and_undo_from_the_pages(client, admin):
    a, b = person(admin, "Ada", "Lovelace"), person(admin, "Ada", "Lovelace")
    pair = _pair(a, b)
    client.force_login(admin)
    client.post(reverse("dedupe:dismiss", args=[pair.pk]))
    assert DuplicatePair.objects.get(pk=pair.pk).status == PairStatus.DISMISSED

    c, d = person(admin, "Grace", "Hopper"), person(admin, "Grace", "Hopper")
    done = merging.customer_merge(actor=admin, survivor=c, loser=d)
    response = client.post(reverse("dedupe:undo", args=[done.pk]), follow=True)
    assert "Merge undone" in response.content.decode()
    assert Customer.objects.get(pk=d.pk).merged_into_id is None


def test_merging_requires_csrf(admin):
    from django.test import Client

    a, b = person(admin, "Ada", "Lovelace"), person(admin, "Ada", "Lovelace")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin)
    assert (
        strict.post(reverse("dedupe:merge"), {"a": a.pk, "b": b.pk, "keep": "a"}).status_code == 403
    )


def test_auto_merge_above_the_threshold_only_when_enabled(admin):
    a, b = person(admin, "Ada", "Lovelace"), person(admin, "Ada", "Lovelace")
    c, d = person(admin, "Grace", "Hopper"), person(admin, "Grace", "Hopper")
    _pair(a, b, 0.995)
    _pair(c, d, 0.93)
    assert merging.auto_merge() == 0  # off by default
    merging.dedupe_settings_update(
        actor=admin,
        auto_merge_enabled=True,
        auto_merge_threshold=0.99,
        auto_merge_rule="most_complete",
    )
    assert merging.auto_merge() == 1
    assert Customer.objects.get(pk=b.pk).merged_into_id == a.pk
    assert Customer.objects.get(pk=d.pk).merged_into_id is None
    merge = CustomerMerge.objects.get()
    assert merge.automatic and merge.merged_by is None
    assert Interaction.objects.filter(customer=a, kind="merge", data__automatic=True).exists()
    with pytest.raises(ValidationError, match=r"between 0\.9 and 1"):
        merging.dedupe_settings_update(
            actor=admin,
            auto_merge_enabled=True,
            auto_merge_threshold=0.5,
            auto_merge_rule="most_complete",
        )


def test_the_360_link_of_a_merged_away_record_leads_to_its_survivor(client, admin):
    a, b = person(admin, "Ada", "Lovelace"), person(admin, "Ada", "Lovelace")
    merging.customer_merge(actor=admin, survivor=a, loser=b)
    client.force_login(admin)
    response = client.get(reverse("customers:detail", args=[b.pk]))
    assert response.status_code == 302 and response["Location"] == a.get_absolute_url()
    # Not for someone who may not see the survivor.
    client.force_login(user_with(Scope.OWN))
    assert client.get(reverse("customers:detail", args=[b.pk])).status_code == 404


def test_queue_counts_the_open_pairs_it_filters_and_shows_probabilities_unrounded(client, admin):
    people = [person(admin, "Ada", f"Lovelace{i}") for i in range(6)]
    for i, p in enumerate([0.999999, 0.9954, 0.93, 0.61, 0.52]):
        _pair(people[i], people[i + 1], p)
    # The last run was an hourly one that found nothing new: its "0 pairs" is about that
    # run, not the queue.
    DuplicateRun.objects.create(
        mode=RunMode.INCREMENTAL, status=RunStatus.SUCCEEDED, threshold=0.9, records=0
    )
    client.force_login(admin)

    page = client.get(reverse("dedupe:queue")).content.decode()
    assert "5 open pairs" in page
    assert "0 new or changed records: 0 pairs found" in page
    for shown in ("&gt; 99.9%", "99.5%", "93%", "61%", "52%"):
        assert shown in page
    assert '<span class="percent">100%' not in page
    page = client.get(reverse("dedupe:queue"), {"min": "0.8"}).content.decode()
    assert "3 open pairs</strong> at 80% or more" in page


def test_percent_never_rounds_up_to_a_certainty():
    from rapport.dedupe.views import percent

    assert percent(1.0) == "100%"
    assert percent(0.99999997) == "> 99.9%"
    assert percent(0.9989) == "99.8%"
    assert percent(0.989) == "98%"
    assert percent(0.5) == "50%"


@pytest.mark.parametrize("version", ["abc", "1.5", "-1", "9" * 30, "0x10"])
def test_a_malformed_version_is_a_clear_400_and_merges_nothing(client, admin, version):
    a, b = person(admin, "Ada", "Lovelace"), person(admin, "Ada", "Lovelace")
    client.force_login(admin)
    response = client.post(
        reverse("dedupe:merge"),
        {"a": a.pk, "b": b.pk, "keep": "a", "version_a": version, "version_b": b.version},
    )
    assert response.status_code == 400
    assert "versions must be whole numbers" in response.content.decode()
    assert Customer.objects.get(pk=b.pk).merged_into_id is None


@pytest.mark.parametrize(
    "back",
    ["https://evil.example/phish", "//evil.example", "/\\evil.example", "http://testserver/x"],
)
def test_the_stale_version_path_never_redirects_off_site(client, admin, back):
    a, b = person(admin, "Ada", "Lovelace"), person(admin, "Ada", "Lovelace")
    client.force_login(admin)
    response = client.post(
        reverse("dedupe:merge"),
        {
            "a": a.pk,
            "b": b.pk,
            "keep": "a",
            "version_a": a.version,
            "version_b": b.version + 5,
            "back": back,
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("dedupe:queue")
    assert Customer.objects.get(pk=b.pk).merged_into_id is None


def test_the_stale_version_path_returns_to_a_local_compare_page(client, admin):
    a, b = person(admin, "Ada", "Lovelace"), person(admin, "Ada", "Lovelace")
    client.force_login(admin)
    back = reverse("dedupe:compare_customers", args=[a.pk, b.pk]) + "?from=queue"
    response = client.post(
        reverse("dedupe:merge"),
        {
            "a": a.pk,
            "b": b.pk,
            "keep": "a",
            "version_a": a.version,
            "version_b": b.version + 5,
            "back": back,
        },
    )
    assert response.status_code == 302 and response["Location"] == back


@pytest.mark.parametrize("pk", ["", "abc", "9" * 30, "-1"])
def test_a_malformed_record_id_is_a_400(client, admin, pk):
    a = person(admin, "Ada", "Lovelace")
    client.force_login(admin)
    response = client.post(reverse("dedupe:merge"), {"a": a.pk, "b": pk, "keep": "a"})
    assert response.status_code == 400
    assert "Name the two records to merge" in response.content.decode()
