"""In a real Chromium: drag a deal to another stage on the board and see both columns'
totals change; move one with the keyboard through the card's menu; a refused move says
why. Set RAPPORT_SCREENSHOTS=<dir> to keep screenshots of the sales pages."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from rapport.customers import services as customer_services
from rapport.sales import services
from rapport.sales.models import Deal
from rapport.sales.tests.factories import CustomerFactory, make_pipeline, sales_user, stage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page: Any, live_server: Any, user: Any) -> None:
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def _shot(page: Any, name: str) -> None:
    folder = os.environ.get("RAPPORT_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _world() -> tuple[Any, Any, list[Deal]]:
    pipeline = make_pipeline("New business")
    user = sales_user(full_name="Sam Seller")
    deals = []
    for name, customer, amount, stage_name in [
        ("Platform rollout", "Nordwind AG", "12000.00", "Qualify"),
        ("Support renewal", "Lumen SARL", "3000.00", "Qualify"),
        ("Licences", "Tessera BV", "8000.00", "Propose"),
    ]:
        deals.append(
            services.deal_create(
                actor=user,
                customer=CustomerFactory(owner=user, display_name=customer),
                data=services.DealInput(
                    name=name, amount=amount, stage_id=stage(pipeline, stage_name).pk
                ),
            )
        )
    return pipeline, user, deals


def test_drag_a_deal_to_another_stage_and_the_totals_change(page: Any, live_server: Any) -> None:
    pipeline, user, deals = _world()
    qualify, propose = stage(pipeline, "Qualify"), stage(pipeline, "Propose")
    _login(page, live_server, user)
    page.goto(f"{live_server.url}/sales/board/{pipeline.pk}/")
    expect(page.get_by_test_id(f"total-{qualify.pk}-EUR")).to_have_text("15,000.00")
    expect(page.get_by_test_id(f"total-{propose.pk}-EUR")).to_have_text("8,000.00")
    _shot(page, "board")

    card = page.locator(f'.deal-card[data-deal="{deals[0].pk}"]')
    target = page.locator(f'.board-column[data-stage="{propose.pk}"]')
    card.drag_to(target)

    expect(page.get_by_test_id(f"total-{propose.pk}-EUR")).to_have_text("20,000.00")
    expect(page.get_by_test_id(f"weighted-{propose.pk}-EUR")).to_have_text("10,000.00")
    expect(page.get_by_test_id(f"total-{qualify.pk}-EUR")).to_have_text("3,000.00")
    expect(page.get_by_test_id(f"count-{propose.pk}")).to_have_text("2 deals")
    expect(target.locator(f'.deal-card[data-deal="{deals[0].pk}"]')).to_be_visible()
    deals[0].refresh_from_db()
    assert deals[0].stage_id == propose.pk

    # The keyboard path: the card's own menu and button.
    select = page.get_by_label(f"Move {deals[1].name} to")
    select.select_option(label="Negotiate")
    select.press("Tab")
    page.keyboard.press("Enter")
    negotiate = stage(pipeline, "Negotiate")
    expect(page.get_by_test_id(f"total-{negotiate.pk}-EUR")).to_have_text("3,000.00")
    expect(page.get_by_test_id(f"count-{qualify.pk}")).to_have_text("0 deals")


def test_a_refused_drop_says_why_and_moves_nothing(page: Any, live_server: Any) -> None:
    pipeline, user, deals = _world()
    negotiate = stage(pipeline, "Negotiate")
    services.stage_update(
        actor=user, stage=negotiate, data=services.StageInput(required_fields=["next_step"])
    )
    _login(page, live_server, user)
    page.goto(f"{live_server.url}/sales/board/{pipeline.pk}/")
    page.locator(f'.deal-card[data-deal="{deals[0].pk}"]').drag_to(
        page.locator(f'.board-column[data-stage="{negotiate.pk}"]')
    )
    expect(page.get_by_test_id("board-error")).to_contain_text(
        "To enter Negotiate, fill in: next step."
    )
    _shot(page, "board_refused")
    deals[0].refresh_from_db()
    assert deals[0].stage.name == "Qualify"


def test_sales_pages_render(page: Any, live_server: Any) -> None:
    """The lead, deal and pipeline pages open in a browser (and, with RAPPORT_SCREENSHOTS,
    leave screenshots to look at)."""
    pipeline, user, deals = _world()
    customer_services.customer_create(
        actor=user,
        data=customer_services.CustomerInput(
            first_name="Maria",
            last_name="Lopez",
            emails=[customer_services.EmailInput(email="maria@example.com")],
        ),
    )
    lead = services.lead_create(
        actor=user,
        data=services.LeadInput(
            first_name="Maria",
            last_name="Lopez",
            email="maria@example.com",
            organization_name="Acme GmbH",
            title="CTO",
            source="web form",
            utm_campaign="spring",
            message="Can we see a demo next week?",
        ),
    )
    services.lead_create(actor=user, data=services.LeadInput(last_name="Berg", source="webinar"))
    _login(page, live_server, user)
    for name, path, text in [
        ("lead_list", "/sales/leads/", "Maria Lopez"),
        ("lead_detail", f"/sales/leads/{lead.pk}/", "Likely existing customers"),
        ("deal_list", "/sales/deals/", "Platform rollout"),
        ("deal_detail", f"/sales/deals/{deals[0].pk}/", "Stage history"),
        ("pipelines", f"/sales/pipelines/{pipeline.pk}/", "Win probability"),
        ("customer", deals[0].customer.get_absolute_url(), "Platform rollout"),
    ]:
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("#content")).to_contain_text(text)
        _shot(page, name)
