"""In a real Chromium: stored XSS payloads stay inert on every customer page, and the
Ctrl-K → 360 → note flow works without a reload. Also takes the pages' screenshots."""

from __future__ import annotations

import pytest
from django.urls import reverse

from rapport.core.permissions import Scope
from rapport.customers import services
from rapport.customers.models import Customer, Interaction
from rapport.customers.services import AddressInput, CustomerInput, EmailInput
from rapport.customers.tests.factories import person
from rapport.identity.tests.factories import PASSWORD, user_with

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IMG = "<img src=x onerror=alert('Xss')>"
SCRIPT = "<script>alert('Xss')</script>"
JS_URL = "javascript:alert('Xss')"


def login(page, live_server, user):
    page.goto(live_server.url + reverse("identity:login"))
    page.fill("input[name=username]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def assert_inert(page, dialogs):
    assert dialogs == []
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("#content script").count() == 0
    assert page.locator("a[href^='javascript:' i]").count() == 0


def test_stored_xss_payloads_stay_inert(page, live_server):
    admin = user_with(Scope.ALL)
    admin.role.is_admin = True
    admin.role.save()
    services.custom_field_define(
        actor=admin, key="motto", label=f"Motto {SCRIPT}", field_type="text", help_text=IMG
    )
    services.custom_field_define(actor=admin, key="home", label="Home page", field_type="url")
    evil = services.customer_create(
        actor=admin,
        data=CustomerInput(
            kind="person",
            first_name=f"Eve {IMG}",
            last_name=SCRIPT,
            job_title=IMG,
            emails=[EmailInput(email="eve@example.com")],
            tags=[IMG, "safe"],
            custom_fields={"motto": f"{SCRIPT}{IMG}", "home": "https://example.com/?q=<img>"},
        ),
    )
    # What no service accepts may still come from an old import: the pages must not trust it.
    Customer.objects.filter(pk=evil.pk).update(
        website=JS_URL, custom_fields={"motto": IMG, "home": JS_URL}
    )
    services.note_add(actor=admin, customer=evil, body=f"{IMG}\n{SCRIPT}\n[click]({JS_URL})")
    services.interaction_record(
        actor=admin, customer=evil, kind="web_event", summary=f"Visited {IMG}", body=SCRIPT
    )
    org = services.customer_create(
        actor=admin, data=CustomerInput(kind="organization", organization_name=f"Org {IMG}")
    )
    services.affiliation_create(actor=admin, person=evil, organization=org, title=SCRIPT)
    services.relationship_create(
        actor=admin, from_customer=org, to_customer=evil, kind="partner", note=IMG
    )

    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, live_server, admin)
    for path in [
        reverse("customers:list"),
        reverse("customers:list") + "?tag=" + IMG,
        reverse("customers:detail", args=[evil.pk]),
        reverse("customers:detail", args=[org.pk]),
        reverse("customers:timeline", args=[evil.pk]),
        reverse("core:search") + "?q=eve",
        reverse("customers:edit", args=[evil.pk]),
    ]:
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        assert_inert(page, dialogs)
    page.goto(live_server.url + reverse("customers:detail", args=[evil.pk]))
    assert "<img src=x" in page.inner_text("#content")  # shown as text, not dropped
    page.click("#fact-website a, #fact-website dd", timeout=5000)
    page.fill("#global-search-input", "eve")
    page.wait_for_selector("#search-suggestions .suggestion")
    assert_inert(page, dialogs)
    assert "onerror=alert('Xss')>" in page.inner_text("#search-suggestions")


def test_ctrl_k_search_open_360_add_note(page, live_server):
    rep = user_with(Scope.OWN, actions=("view", "create", "edit"))
    ada = person(rep, "Ada", "Lovelace", emails=["ada@example.org"])
    for i in range(3):
        services.interaction_record(
            actor=rep, customer=ada, kind="call", channel="phone", summary=f"Call {i}"
        )
    login(page, live_server, rep)
    page.keyboard.press("Control+k")
    page.wait_for_selector("#palette-input:visible")
    page.keyboard.type("lovelace")
    page.wait_for_selector("#palette-results .suggestion")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/customers/{ada.pk}/")
    assert page.inner_text("h1") == "Ada Lovelace"

    page.evaluate("window.__noReload = true")
    page.fill("#note-form textarea", "Agreed to review the engine notes.")
    page.click("#note-form button[type=submit]")
    page.wait_for_selector("#timeline-list .timeline-item.kind-note")
    first = page.locator("#timeline-list .timeline-item").first
    assert "Agreed to review the engine notes." in first.inner_text()
    assert page.evaluate("window.__noReload") is True
    assert page.input_value("#note-form textarea") == ""
    assert Interaction.objects.filter(customer=ada, kind="note").count() == 1


def test_screenshots_of_list_and_360(page, live_server):
    from rapport.customers import demo

    admin = user_with(Scope.ALL)
    admin.role.is_admin = True
    admin.role.save()
    demo.PEOPLE, demo.ORGANIZATIONS = 120, 20
    try:
        demo.load()
    finally:
        demo.PEOPLE, demo.ORGANIZATIONS = 3000, 300
    org = Customer.objects.filter(kind="organization").order_by("pk").first()
    login(page, live_server, admin)
    for width, height, tag in [(1366, 900, "wide"), (390, 844, "phone")]:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(live_server.url + reverse("customers:list"))
        page.screenshot(path=f"/tmp/customers-list-{tag}.png")
        page.goto(live_server.url + reverse("customers:detail", args=[org.pk]))
        page.screenshot(path=f"/tmp/customers-360-{tag}.png", full_page=tag == "wide")
        assert page.locator(".timeline-item").count() > 0


def test_inline_edit_timeline_filter_and_infinite_scroll_in_the_browser(page, live_server):
    import datetime as dt

    from django.utils import timezone

    rep = user_with(Scope.OWN, actions=("view", "create", "edit"))
    ada = person(rep, "Ada", "Lovelace")
    now = timezone.now()
    Interaction.objects.bulk_create(
        [
            Interaction(
                customer=ada,
                kind=["call", "email"][i % 2],
                channel=["phone", "email"][i % 2],
                summary=f"Entry {i:03}",
                occurred_at=now - dt.timedelta(hours=i),
            )
            for i in range(75)
        ]
    )
    login(page, live_server, rep)
    page.goto(live_server.url + reverse("customers:detail", args=[ada.pk]))

    page.click("#fact-job_title .edit-inline")
    # htmx marks swapped-in content `htmx-added` until it has wired it up.
    page.wait_for_selector("#fact-job_title form.inline-editor:not(.htmx-added)")
    page.fill("#fact-job_title input[name=value]", "Mathematician")
    page.keyboard.press("Enter")
    page.wait_for_selector("#fact-job_title .saved-flash")
    assert "Mathematician" in page.inner_text("#fact-job_title")
    assert Customer.objects.get(pk=ada.pk).job_title == "Mathematician"

    assert page.locator(".timeline-item").count() == 30
    page.locator(".timeline-more").scroll_into_view_if_needed()
    # Predicates as functions: a bare expression is polled with eval, which the CSP refuses.
    page.wait_for_function("() => document.querySelectorAll('.timeline-item').length >= 60")
    page.locator(".timeline-more").scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelectorAll('.timeline-item').length === 75")
    assert page.locator(".timeline-more").count() == 0

    page.click(".timeline-filters summary")
    call_box = page.locator(".timeline-filters input[name=kind][value=call]")
    call_box.check()
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.timeline-item'))"
        ".every(e => e.classList.contains('kind-call'))"
    )
    assert page.locator(".timeline-item").count() == 30
    # Only the results were swapped: the box the user toggled is still there, checked and
    # focused, and the summary counts the active filter.
    assert call_box.is_checked()
    assert call_box.evaluate("e => e === document.activeElement")
    assert page.inner_text("#timeline-filter-count").strip() == "(1)"

    call_box.uncheck()
    page.wait_for_function(
        "() => document.querySelectorAll('.timeline-item.kind-email').length > 0"
    )
    assert page.inner_text("#timeline-filter-count").strip() == ""


def test_select_all_matching_extends_a_bulk_action_beyond_the_page(page, live_server):
    from rapport.core.models import Job

    rep = user_with(Scope.OWN, actions=("view", "create", "edit"))
    for i in range(55):
        person(rep, "Bulk", f"Person{i:02}")
    login(page, live_server, rep)
    page.goto(live_server.url + reverse("customers:list") + "?page_size=25")
    assert page.locator("[data-select-matching]").is_hidden()
    page.check("[data-select-all]")
    page.click("[data-select-matching]")
    assert page.inner_text("[data-bulk-count]") == "all 55 matching customers selected"
    page.select_option("[data-bulk-action]", "tag")
    page.fill("#bulk-form input[name=tag]", "spring")
    assert page.inner_text("[data-bulk-submit]") == "Apply to all matching"
    # Unticking one row goes back to "the selected rows".
    page.locator("#bulk-form input[name=ids]").first.uncheck()
    assert page.inner_text("[data-bulk-submit]") == "Apply to selected"
    page.locator("#bulk-form input[name=ids]").first.check()
    page.click("[data-select-matching]")
    page.click("[data-bulk-submit]")
    page.wait_for_url("**/jobs/**")
    job = Job.objects.get(kind="customers.bulk")
    assert job.params["filters"] == {} and job.params["action"] == "tag"


def test_inline_edit_shows_the_servers_error_and_the_conflict(page, live_server):
    # htmx 2 drops 4xx bodies unless told otherwise: a refused save must stay on screen.
    rep = user_with(Scope.OWN, actions=("view", "create", "edit"))
    ada = person(rep, "Ada", "Lovelace")
    login(page, live_server, rep)
    page.goto(live_server.url + reverse("customers:detail", args=[ada.pk]))

    page.click("#fact-website .edit-inline")
    page.wait_for_selector("#fact-website form.inline-editor:not(.htmx-added)")
    page.fill("#fact-website input[name=value]", "not a url at all")
    page.keyboard.press("Enter")
    error = page.locator("#fact-website .errorlist")
    error.wait_for()
    assert error.inner_text().strip()
    assert page.locator("#fact-website input[name=value]").input_value() == "not a url at all"
    assert page.locator("#fact-website .saved-flash").count() == 0
    assert Customer.objects.get(pk=ada.pk).website == ""

    # Someone else saves the record while the editor is open: the save is refused and says so.
    page.fill("#fact-website input[name=value]", "https://example.org")
    services.customer_update(
        actor=rep,
        customer=Customer.objects.get(pk=ada.pk),
        data=CustomerInput(job_title="Countess"),
    )
    page.keyboard.press("Enter")
    page.locator("#fact-website .conflict").wait_for()
    assert "changed" in page.inner_text("#fact-website .conflict").lower()
    assert Customer.objects.get(pk=ada.pk).website == ""


def test_a_failed_htmx_request_is_announced(page, live_server):
    rep = user_with(Scope.OWN, actions=("view", "create", "edit"))
    ada = person(rep, "Ada", "Lovelace")
    login(page, live_server, rep)
    page.goto(live_server.url + reverse("customers:detail", args=[ada.pk]))
    page.click("#fact-job_title .edit-inline")
    page.wait_for_selector("#fact-job_title form.inline-editor:not(.htmx-added)")
    # The record is handed to someone else meanwhile: out of this user's scope, the save
    # answers 404, which has no form to show.
    other = user_with(Scope.OWN, actions=("view",))
    Customer.objects.filter(pk=ada.pk).update(owner=other)
    page.fill("#fact-job_title input[name=value]", "Mathematician")
    page.keyboard.press("Enter")
    page.locator("#htmx-failure[role=alert]").wait_for()
    assert "nothing was changed" in page.inner_text("#htmx-failure")


def test_column_chooser_by_keyboard_and_the_table_fits_the_screen(page, live_server):
    admin = user_with(Scope.ALL)
    for i in range(12):
        person(
            admin,
            f"Maximilianne{i}",
            "Featherstonehaugh-Worthington",
            emails=[f"maximilianne.featherstonehaugh{i}@example-long-domain.com"],
            addresses=[AddressInput(line1="1 High St", city="Llanfairpwllgwyngyll", country="GB")],
        )
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, live_server, admin)
    page.goto(live_server.url + reverse("customers:list"))
    wrap = page.locator(".table-wrap").first
    assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth")  # no clipped last column
    assert page.locator("thead th.col-created").count() == 0

    page.locator(".column-chooser summary").focus()
    page.keyboard.press("Enter")
    created = page.locator(".column-chooser input[value=created]")
    created.focus()
    page.keyboard.press("Space")
    page.locator(".column-chooser input[value=tags]").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Enter")  # submits the chooser's form
    page.locator("thead th.col-created").wait_for()
    assert page.locator("thead th.col-tags").count() == 0
    page.reload()
    assert page.locator("thead th.col-created").count() == 1  # kept for this user
    assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + reverse("customers:list"))
    first_row = page.locator("tbody tr").first
    assert first_row.bounding_box()["y"] < 500  # was about 640 px down
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
