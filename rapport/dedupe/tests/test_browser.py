"""In a real Chromium: review a pair in the duplicates queue, pick a value, merge, undo."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from rapport.core.permissions import Scope
from rapport.customers import services
from rapport.customers.models import Address, Customer
from rapport.customers.services import AddressInput
from rapport.customers.tests.factories import person
from rapport.customers.tests.test_browser import login
from rapport.dedupe.models import DuplicatePair, DuplicateRun, PairStatus, RunMode, RunStatus
from rapport.identity.tests.factories import user_with

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_review_a_pair_pick_a_value_merge_and_undo(page, live_server):
    manager = user_with(Scope.OWN)  # every action on their own records
    ada = person(manager, "Ada", "Lovelace", emails=["ada@example.com"], job_title="Countess")
    dup = person(manager, "Ada", "Lovelace", emails=["countess@example.org"], job_title="Analyst")
    services.note_add(actor=manager, customer=dup, body="Asked about the engine")
    a, b = sorted([ada, dup], key=lambda c: c.pk)
    pair = DuplicatePair.objects.create(
        customer_a=a,
        customer_b=b,
        probability=0.964,
        match_weight=11.5,
        details={
            "name": {"level": "Exact match on first_name and last_name", "weight": 14.6},
            "email": {"level": "All other comparisons", "weight": -8.2},
            "address2": {"level": "address2 is NULL", "weight": 0.0},
        },
    )
    login(page, live_server, manager)

    page.goto(live_server.url + reverse("dedupe:queue"))
    page.screenshot(path="/tmp/dedupe-queue.png", full_page=True)
    assert "96%" in page.inner_text(".dedupe-queue")
    assert page.locator(".why .chip.agrees").inner_text().strip() == "✓ Name"
    assert page.locator(".why .chip.differs").inner_text().strip() == "✗ Email"
    page.click(f"a[href='{reverse('dedupe:compare', args=[pair.pk])}']")
    page.wait_for_selector("#compare")
    # Keep the first record but take the other's job title.
    page.get_by_label("Job title: Analyst").check()
    page.screenshot(path="/tmp/dedupe-compare.png", full_page=True)
    page.click("#merge-button")
    page.wait_for_url(f"**{a.get_absolute_url()}")
    assert "Merged" in page.inner_text(".messages")
    survivor = Customer.objects.get(pk=a.pk)
    assert survivor.job_title == "Analyst"
    assert sorted(survivor.emails.values_list("email", flat=True)) == [
        "ada@example.com",
        "countess@example.org",
    ]
    assert Customer.objects.get(pk=b.pk).merged_into_id == a.pk
    assert DuplicatePair.objects.get(pk=pair.pk).status == PairStatus.MERGED
    page.wait_for_selector("#panel-duplicates")
    assert "Asked about the engine" in page.inner_text("#timeline-list")
    page.screenshot(path="/tmp/dedupe-merged-360.png", full_page=True)

    page.click("#panel-duplicates button:has-text('Undo merge')")
    page.wait_for_selector(".message-success")
    assert "Merge undone" in page.inner_text(".messages")
    assert Customer.objects.get(pk=b.pk).merged_into_id is None
    assert Customer.objects.get(pk=a.pk).job_title == a.job_title == "Countess"


def test_the_merge_message_offers_undo_and_the_shared_address_shows_once(page, live_server):
    manager = user_with(Scope.OWN)
    home = AddressInput(line1="12 High Street", city="London", postcode="SW1A 1AA", country="GB")
    ada = person(manager, "Ada", "Lovelace", emails=["ada@example.com"], addresses=[home])
    dup = person(manager, "Ada", "Lovelace", emails=["countess@example.org"], addresses=[home])
    a, b = sorted([ada, dup], key=lambda c: c.pk)
    pair = DuplicatePair.objects.create(
        customer_a=a, customer_b=b, probability=0.97, match_weight=12.0, details={}
    )
    login(page, live_server, manager)

    page.goto(live_server.url + reverse("dedupe:compare", args=[pair.pk]))
    page.click("#merge-button")
    page.wait_for_url(f"**{a.get_absolute_url()}")
    message = page.locator(".message-success")
    expect(message).to_contain_text("Merged Ada Lovelace into Ada Lovelace")
    expect(message.locator("#undo-merge")).to_be_visible()
    # The address both records had is on the survivor once.
    expect(page.get_by_text("12 High Street")).to_have_count(1)
    page.screenshot(path="/tmp/dedupe-merge-message.png", full_page=True)
    assert Address.objects.filter(customer=a).count() == 1

    message.locator("#undo-merge").click()
    expect(page.locator(".message-success")).to_contain_text("Merge undone")
    assert Customer.objects.get(pk=b.pk).merged_into_id is None
    assert Address.objects.filter(customer=b).count() == 1
    assert Address.objects.filter(customer=a).count() == 1


def test_the_queue_counts_its_pairs_shows_their_spread_and_why_a_run_did_not_train(
    page, live_server
):
    manager = user_with(Scope.OWN)
    people = [person(manager, "Grace", f"Hopper{i}") for i in range(5)]
    for i, (p, w) in enumerate([(0.9999999, 24.0), (0.996, 9.1), (0.93, 4.7), (0.62, 1.2)]):
        DuplicatePair.objects.create(
            customer_a=people[i],
            customer_b=people[i + 1],
            probability=p,
            match_weight=w,
            details={"name": {"level": "Exact match on full_name", "weight": w}},
        )
    DuplicateRun.objects.create(
        mode=RunMode.FULL,
        status=RunStatus.UNTRAINED,
        threshold=0.9,
        error="Duplicate detection could not learn its model from this data: only names "
        "could be used.",
    )
    login(page, live_server, manager)

    page.goto(live_server.url + reverse("dedupe:queue"))
    expect(page.locator("#open-count")).to_have_text("4 open pairs")
    expect(page.locator(".dedupe-queue .percent")).to_have_text(["> 99.9%", "99.6%", "93%", "62%"])
    expect(page.locator("#detection-problem")).to_contain_text("only names could be used")
    page.screenshot(path="/tmp/dedupe-queue-spread.png", full_page=True)

    page.select_option("#min-probability", "0.95")
    expect(page.locator("#open-count")).to_have_text("2 open pairs")
    expect(page.locator(".dedupe-queue .percent")).to_have_count(2)
