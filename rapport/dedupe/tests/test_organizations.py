"""Duplicate organizations: legal forms and accents folded, domain and phone as evidence."""

from __future__ import annotations

import pytest

from rapport.customers.tests.factories import organization
from rapport.dedupe import organizations, services
from rapport.dedupe.models import DuplicatePair
from rapport.dedupe.organizations import Org, domain_of, fold_name, probability, score
from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("ACME Limited", "acme"),
        ("Acme Ltd.", "acme"),
        ("Müller GmbH & Co. KG", "muller"),
        ("Société Générale S.A.", "societe generale"),
        ("  Analytical   Engines, Inc ", "analytical engines"),
        ("", ""),
    ],
)
def test_names_are_folded_without_legal_form_accents_or_punctuation(raw, folded):
    assert fold_name(raw) == folded


def test_the_domain_comes_from_the_website_or_a_company_mailbox():
    assert domain_of("https://www.acme.example/about", "") == "acme.example"
    assert domain_of("acme.example", "") == "acme.example"
    assert domain_of("", "sales@acme.example") == "acme.example"
    assert domain_of("", "acme.sales@gmail.com") == ""


def test_evidence_adds_up_as_expected():
    acme = Org(1, "acme", "acme.example", "+442079460000", "london")
    same = Org(2, "acme", "acme.example", "", "london")
    namesake = Org(3, "acme", "acme-tools.example", "+14155550100", "boston")
    assert probability(score(acme, same)[0]) > 0.99
    assert probability(score(acme, namesake)[0]) < 0.5
    _weight, details = score(acme, namesake)
    assert details["domain"]["weight"] < 0 and details["city"]["weight"] < 0


def test_a_full_run_finds_the_same_company_entered_twice_and_not_its_namesake():
    admin = UserFactory(is_superuser=True)
    first = organization(admin, "ACME Limited", website="https://www.acme.example")
    again = organization(admin, "Acme Ltd.", emails=[], website="http://acme.example/contact")
    organization(admin, "Acme Tools Inc", website="https://acme-tools.example")
    organization(admin, "Globex Corporation", website="https://globex.example")
    _run, detection = services.run_full()
    pairs = {(p.customer_a_id, p.customer_b_id): p for p in DuplicatePair.objects.all()}
    assert (first.pk, again.pk) in pairs
    assert pairs[(first.pk, again.pk)].probability > 0.99
    assert len(pairs) == 1
    assert [first.pk, again.pk] in detection.clusters


def test_an_incremental_run_scores_a_changed_organization_against_everyone():
    admin = UserFactory(is_superuser=True)
    organization(admin, "Initech GmbH", website="https://initech.example")
    services.run_full()
    late = organization(admin, "INITECH", website="initech.example")
    _run, pairs = services.run_incremental()
    assert late.pk in set(pairs["id_a"]) | set(pairs["id_b"])
    assert DuplicatePair.objects.filter(customer_b=late).exists()


def test_huge_blocks_are_skipped_not_compared_pairwise():
    orgs = [Org(i, "placeholder", "", "", "") for i in range(organizations.MAX_BLOCK + 1)]
    assert list(organizations._blocks(orgs)) == []
