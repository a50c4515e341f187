"""Sales pages: lists pin their query counts at 2 rows and 20, the board's at 2 and 120
(with a capped column), the detail pages, the lead actions and moves from the board."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from rapport.core.models import OutboxEvent
from rapport.customers import services as customer_services
from rapport.identity.tests.factories import UserFactory
from rapport.sales import services
from rapport.sales.models import Deal, Lead, LeadStatus
from rapport.sales.selectors import BOARD_CAP
from rapport.sales.tests.factories import CustomerFactory, sales_user, stage

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(db: Any) -> Any:
    return sales_user()


@pytest.fixture
def client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _deals(user: Any, n: int, pipeline: Any, stage_name: str = "Qualify") -> list[Deal]:
    customer = CustomerFactory(owner=user)
    rows = [
        (
            customer,
            services.DealInput(name=f"D{i}", amount="100", stage_id=stage(pipeline, stage_name).pk),
        )
        for i in range(n)
    ]
    return services.deals_bulk_create(actor=user, rows=rows, via="system").created


def _leads(user: Any, n: int) -> None:
    for i in range(n):
        services.lead_create(
            actor=user, data=services.LeadInput(last_name=f"L{i}", email=f"l{i}@x.example")
        )


def _count(client: Client, url: str, django_assert_num_queries: Any, n: int) -> None:
    client.get(url)
    with django_assert_num_queries(n):
        assert client.get(url).status_code == 200


# Session, user, role and grants, then the page's own reads.
QUERIES = {
    "/sales/leads/": 5,
    "/sales/deals/": 7,  # + the owner and team choices of the filters
    # + default pipeline, stages, totals, one card query per stage (5), pipelines, owners, teams
    "/sales/board/": 15,
}


@pytest.mark.parametrize("url", sorted(QUERIES))
def test_lists_and_board_make_the_same_queries_for_few_rows_and_many(
    client: Client, user: Any, pipeline: Any, django_assert_num_queries: Any, url: str
) -> None:
    _deals(user, 2, pipeline)
    _leads(user, 2)
    _count(client, url, django_assert_num_queries, QUERIES[url])
    _deals(user, 20, pipeline, "Propose")
    _deals(user, BOARD_CAP + 10, pipeline, "Negotiate")
    _leads(user, 20)
    _count(client, url, django_assert_num_queries, QUERIES[url])


def test_board_shows_totals_and_caps_a_column(client: Client, user: Any, pipeline: Any) -> None:
    _deals(user, BOARD_CAP + 3, pipeline, "Negotiate")
    _deals(user, 2, pipeline, "Propose")
    html = client.get("/sales/board/").content.decode()
    negotiate, propose = stage(pipeline, "Negotiate"), stage(pipeline, "Propose")
    assert f'data-testid="count-{negotiate.pk}">{BOARD_CAP + 3} deals' in html
    assert "and 3 more" in html and f"stage={negotiate.pk}" in html
    # 2 x 100 EUR at 50 %
    assert f'data-testid="total-{propose.pk}-EUR">200.00<' in html
    assert f'data-testid="weighted-{propose.pk}-EUR">100.00<' in html
    assert html.count('<article class="deal-card') == BOARD_CAP + 2


def test_board_filters_by_owner_and_close_month(client: Client, user: Any, pipeline: Any) -> None:
    other = sales_user()
    mine = _deals(user, 1, pipeline)[0]
    theirs = _deals(other, 1, pipeline)[0]
    html = client.get(f"/sales/board/?owner={user.pk}").content.decode()
    assert mine.name in html and f'data-deal="{theirs.pk}"' not in html
    bad = client.get("/sales/board/?close_month=March").content.decode()
    assert "YYYY-MM" in bad


def test_board_move_by_form_returns_the_board_with_new_totals(
    client: Client, user: Any, pipeline: Any
) -> None:
    deal = _deals(user, 1, pipeline)[0]
    propose = stage(pipeline, "Propose")
    response = client.post(
        f"/sales/deals/{deal.pk}/move/",
        {"stage": propose.pk, "version": deal.version, "from": "board"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="board",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and f'data-testid="total-{propose.pk}-EUR">100.00<' in html
    deal.refresh_from_db()
    assert deal.stage_id == propose.pk


def test_board_move_refused_by_a_stage_rule_says_why(
    client: Client, user: Any, pipeline: Any
) -> None:
    services.stage_update(
        actor=user,
        stage=stage(pipeline, "Propose"),
        data=services.StageInput(required_fields=["next_step"]),
    )
    deal = _deals(user, 1, pipeline)[0]
    response = client.post(
        f"/sales/deals/{deal.pk}/move/",
        {"stage": stage(pipeline, "Propose").pk, "version": deal.version, "from": "board"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="board",
    )
    assert response.status_code == 422
    assert "To enter Propose, fill in: next step." in response.content.decode()


def test_a_move_without_javascript_redirects_to_the_board(
    client: Client, user: Any, pipeline: Any
) -> None:
    deal = _deals(user, 1, pipeline)[0]
    response = client.post(
        f"/sales/deals/{deal.pk}/move/",
        {"stage": stage(pipeline, "Propose").pk, "version": deal.version, "from": "board"},
    )
    assert response.status_code == 302 and response["Location"] == f"/sales/board/{pipeline.pk}/"


def test_lead_detail_shows_likely_matches_and_converts(
    client: Client, user: Any, pipeline: Any
) -> None:
    existing = customer_services.customer_create(
        actor=UserFactory(is_superuser=True),
        data=customer_services.CustomerInput(
            first_name="Maria",
            last_name="Lopez",
            emails=[customer_services.EmailInput(email="maria@example.com")],
        ),
    )
    lead = services.lead_create(
        actor=user,
        data=services.LeadInput(first_name="Maria", last_name="Lopez", email="maria@example.com"),
    )
    html = client.get(f"/sales/leads/{lead.pk}/").content.decode()
    assert "Likely existing customers" in html and "Merge into Maria Lopez" in html
    response = client.post(
        f"/sales/leads/{lead.pk}/convert/",
        {
            "customer": existing.pk,
            "create_deal": "on",
            "deal_name": "Maria's deal",
            "amount": "250",
            "version": lead.version,
        },
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONVERTED and lead.converted_customer_id == existing.pk
    assert Deal.objects.get().name == "Maria's deal"


def test_lead_disqualify_needs_a_reason(client: Client, user: Any) -> None:
    lead = services.lead_create(actor=user, data=services.LeadInput(last_name="X"))
    response = client.post(f"/sales/leads/{lead.pk}/disqualify/", {"reason": ""})
    assert response.status_code == 422 and "This field is required" in response.content.decode()
    client.post(f"/sales/leads/{lead.pk}/disqualify/", {"reason": "Spam"})
    assert Lead.objects.get().status == LeadStatus.DISQUALIFIED


def test_lead_form_creates_and_says_when_it_updated_an_open_lead(client: Client) -> None:
    data = {"last_name": "Berg", "email": "jo@x.example", "status": "new"}
    client.post("/sales/leads/new/", data)
    response = client.post("/sales/leads/new/", data, follow=True)
    assert "already had an open lead" in response.content.decode()
    assert Lead.objects.count() == 1


def test_deal_pages(client: Client, user: Any, pipeline: Any) -> None:
    customer = CustomerFactory(owner=user)
    response = client.post(
        f"/sales/deals/new/?customer={customer.pk}",
        {"name": "Rollout", "amount": "900", "customer": customer.pk},
    )
    assert response.status_code == 302
    deal = Deal.objects.get()
    html = client.get(f"/sales/deals/{deal.pk}/").content.decode()
    assert "Stage history" in html and "Qualify" in html and "900.00" in html
    client.post(f"/sales/deals/{deal.pk}/lose/", {"reason": "Price", "version": deal.version})
    deal.refresh_from_db()
    assert deal.status == "lost"
    assert OutboxEvent.objects.filter(type="deal.lost").exists()


def test_deals_panel_on_the_customer_page(client: Client, user: Any, pipeline: Any) -> None:
    deal = _deals(user, 1, pipeline)[0]
    html = client.get(deal.customer.get_absolute_url()).content.decode()
    assert 'data-panel="deals"' in html and deal.name in html


def test_pipeline_settings_edits_a_stage_probability(
    client: Client, user: Any, pipeline: Any
) -> None:
    propose = stage(pipeline, "Propose")
    html = client.get(f"/sales/pipelines/{pipeline.pk}/").content.decode()
    assert "Win probability" in html
    prefix = f"s{propose.pk}"
    response = client.post(
        f"/sales/stages/{propose.pk}/",
        {
            f"{prefix}-name": "Propose",
            f"{prefix}-probability": "35",
            f"{prefix}-required_fields": ["amount"],
            "version": propose.version,
        },
    )
    assert response.status_code == 302
    propose.refresh_from_db()
    assert propose.probability == 35 and propose.required_fields == ["amount"]
    bad = client.post(
        f"/sales/stages/{propose.pk}/",
        {f"{prefix}-name": "Propose", f"{prefix}-probability": "135"},
    )
    assert bad.status_code == 422


def test_empty_states(client: Client) -> None:
    assert "No leads yet" in client.get("/sales/leads/").content.decode()
    assert "No deals yet" in client.get("/sales/deals/").content.decode()
    assert client.get("/sales/board/").status_code == 404  # no pipeline at all
    assert "No pipeline yet" in client.get("/sales/pipelines/").content.decode()
