"""Next best offer: co-occurrence on a hand-built history (exclusion of owned products,
the explanation's support figures), and on generated data with a planted co-purchase
structure, where it must beat the popularity baseline's hit rate at 5."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.test import Client

from rapport.analytics import recommend
from rapport.analytics.models import Recommendation
from rapport.commerce.models import Order, OrderLine
from rapport.commerce.tests.factories import CustomerFactory, ProductFactory
from rapport.core.models import Job, JobStatus
from rapport.core.permissions import Scope
from rapport.identity.tests.factories import UserFactory, user_with

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)


def _buy(customer: Any, products: list[Any], when: dt.datetime, status: str = "delivered") -> None:
    order = Order.objects.create(
        customer=customer, currency="EUR", total=Decimal(10), status=status, ordered_at=when
    )
    OrderLine.objects.bulk_create(
        OrderLine(order=order, product=p, position=i, name=p.name, quantity=1,
                  unit_price=Decimal(10), line_total=Decimal(10))
        for i, p in enumerate(products)
    )  # fmt: skip


@pytest.fixture
def small() -> dict[str, Any]:
    a, b, c, d = (ProductFactory(name=n) for n in "ABCD")
    people = {name: CustomerFactory(display_name=name) for name in ("c1", "c2", "c3", "c4")}
    _buy(people["c1"], [a, b], START)
    _buy(people["c2"], [a], START)
    _buy(people["c2"], [b], START + dt.timedelta(days=3))  # two orders: still one basket
    _buy(people["c3"], [a, c], START)
    _buy(people["c4"], [a], START)
    _buy(people["c4"], [d], START, status="cancelled")  # not a purchase
    return {"products": {"A": a, "B": b, "C": c, "D": d}, **people}


def _offers(customer: Any) -> list[tuple[str, str | None, int, int]]:
    rows = Recommendation.objects.filter(customer=customer).order_by("rank")
    return [
        (r.product.name, r.because.name if r.because else None, r.because_customers, r.together)
        for r in rows.select_related("product", "because")
    ]


def test_offers_exclude_owned_products_and_explain_themselves(small) -> None:
    run = recommend.refresh_all()

    assert run.customers == 4 and run.products == 3  # D was never bought (cancelled)
    # c4 owns A. B: 2 of A's 4 buyers bought it; C only once together with A, under the
    # minimum support, so C comes as a popular product, unexplained.
    assert _offers(small["c4"]) == [("B", "A", 4, 2), ("C", None, 0, 0)]
    assert _offers(small["c3"]) == [("B", "A", 4, 2)]
    assert _offers(small["c1"]) == [("C", None, 0, 0)]
    for customer in (small["c1"], small["c2"], small["c3"], small["c4"]):
        owned = set(
            OrderLine.objects.filter(
                order__customer=customer, order__status="delivered"
            ).values_list("product_id", flat=True)
        )
        offered = set(
            Recommendation.objects.filter(customer=customer).values_list("product_id", flat=True)
        )
        assert not owned & offered
    assert Recommendation.objects.get(customer=small["c4"], rank=1).confidence == 50.0


def test_a_second_run_replaces_the_lists(small) -> None:
    recommend.refresh_all()
    _buy(small["c4"], [small["products"]["B"]], START + dt.timedelta(days=9))
    recommend.refresh_all()
    assert [name for name, *_ in _offers(small["c4"])] == ["C"]


def test_no_purchases_at_all() -> None:
    CustomerFactory()
    assert recommend.refresh_all().recommendations == 0
    with pytest.raises(Exception, match="No purchases before the cut-off"):
        recommend.evaluate(cutoff=START)


def planted_shop(seed: int = 7, customers: int = 400) -> dt.datetime:
    """8 groups of 4 products that the same people buy together, and 4 best sellers that
    anyone may buy. Before the cut-off a customer buys 2 products of their group (and
    maybe a best seller); after it, one more of their group (and maybe a best seller)."""
    rng = random.Random(seed)
    groups = [[ProductFactory(name=f"G{g}-{i}") for i in range(4)] for g in range(8)]
    best = [ProductFactory(name=f"Best {i}") for i in range(4)]
    cutoff = START + dt.timedelta(days=100)
    for n in range(customers):
        customer = CustomerFactory(display_name=f"P{n}")
        group = rng.choice(groups)
        first, second, later = rng.sample(group, 3)
        extra = [rng.choice(best)] if rng.random() < 0.6 else []
        _buy(customer, [first, *extra], START + dt.timedelta(days=rng.randint(0, 40)))
        _buy(customer, [second], START + dt.timedelta(days=rng.randint(41, 99)))
        after = [later] + ([rng.choice(best)] if rng.random() < 0.4 else [])
        _buy(customer, after, cutoff + dt.timedelta(days=rng.randint(1, 60)))
    return cutoff


def test_beats_popularity_on_a_planted_co_purchase_structure() -> None:
    cutoff = planted_shop()
    result = recommend.evaluate(cutoff=cutoff)

    assert result.customers == 400
    assert result.hit_rate >= 0.9
    assert result.popularity_hit_rate < 0.6
    assert result.beats_popularity


def test_evaluation_command_prints_both_hit_rates(capsys) -> None:
    cutoff = planted_shop(customers=120)
    call_command("recommend", "--evaluate", "--cutoff", cutoff.date().isoformat())
    out = capsys.readouterr().out
    assert "co-occurrence" in out and "popularity" in out and "hit rate at 5" in out
    call_command("recommend", "--evaluate", "--cutoff", cutoff.date().isoformat(), "--json")
    assert '"beats_popularity": true' in capsys.readouterr().out
    call_command("recommend")
    assert "120 customers" in capsys.readouterr().out


def test_refresh_job_for_administrators(
    small, immediate_tasks: None, django_capture_on_commit_callbacks: Any
) -> None:
    with pytest.raises(PermissionDenied):
        recommend.recommendations_refresh_start(actor=user_with(Scope.ALL))
    admin = UserFactory(is_superuser=True)
    with django_capture_on_commit_callbacks(execute=True):
        job = recommend.recommendations_refresh_start(actor=admin)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.result["customers"] == 4
    assert recommend.recommendations_scheduled()["recommendations"] == 5
    assert Job.objects.filter(kind=recommend.RECOMMEND_JOB_KIND).count() == 2


def test_panel_and_evaluation_page(small) -> None:
    recommend.refresh_all()
    boss = user_with(Scope.ALL, object_types=("customers.customer", "commerce.product"))
    client = Client()
    client.force_login(boss)
    page = client.get(small["c4"].get_absolute_url()).content.decode()
    assert 'data-panel="recommendations"' in page
    assert "customers who bought" in page and "A" in page
    rep = user_with(Scope.OWN)
    client.force_login(rep)
    assert client.get(small["c4"].get_absolute_url()).status_code == 404


def test_evaluation_job_and_page(
    immediate_tasks: None, django_capture_on_commit_callbacks: Any
) -> None:
    planted_shop(customers=120)
    recommend.refresh_all()
    admin = UserFactory(is_superuser=True)
    with pytest.raises(PermissionDenied):
        recommend.recommendations_evaluate_start(actor=user_with(Scope.ALL))
    client = Client()
    client.force_login(admin)
    assert b"Not evaluated yet" in client.get("/analytics/recommendations/").content
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/analytics/recommendations/evaluate/").status_code == 302
    job = Job.objects.get(kind=recommend.EVALUATE_JOB_KIND)
    assert job.status == JobStatus.SUCCEEDED and job.result["beats_popularity"] is True
    html = client.get("/analytics/recommendations/").content.decode()
    assert "Beats popularity" in html and "data-hit-rate" in html
    assert "Offered to" in html
    assert client.post("/analytics/recommendations/recompute/").status_code == 302
    boss = user_with(Scope.ALL)
    client.force_login(boss)
    assert client.post("/analytics/recommendations/evaluate/").status_code == 403
