"""In a real Chromium: every page of the demo loads under the Content-Security-Policy with
no violation reported, and the behaviours that were inline handlers still work."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from rapport.core import registry
from rapport.customers import demo as customers_demo
from rapport.customers.models import Customer
from rapport.customers.tests.test_browser import login
from rapport.dedupe import demo as dedupe_demo
from rapport.identity.models import User
from rapport.identity.tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The init script runs before any page script and is not subject to the page's policy.
LISTEN = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} ` +
                    `at ${e.sourceFile}:${e.lineNumber} "${e.sample}"`);
});
"""
MAX_PAGES = 140
PER_PATTERN = 2  # /customers/12/ and /customers/13/ are one page twice
SKIP = re.compile(r"^/(static|media)/|/logout/|/download/|^/api/v1/(?!docs)|/export")


class Violations:
    """CSP violations on the page, from both the DOM event and Chromium's console."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.console: list[str] = []
        self.offsite: list[str] = []
        page.context.add_init_script(LISTEN)
        # As on a machine with no internet: anything not from this site fails (and counts).
        page.context.route(
            lambda url: not url.startswith(base),
            lambda route: (self.offsite.append(route.request.url), route.abort()),
        )
        page.on(
            "console",
            lambda m: self.console.append(m.text) if "Content Security Policy" in m.text else None,
        )

    def check(self, where: str) -> None:
        reported = self.page.evaluate("window.__csp || []")
        assert (reported, self.console, self.offsite) == ([], [], []), where


def _pattern(path: str) -> str:
    return re.sub(r"/[0-9a-f-]{32,36}/|/\d+/", "/N/", path)


def _demo(monkeypatch: pytest.MonkeyPatch) -> User:
    """The demo data, small: every loader runs, so every kind of page has something."""
    monkeypatch.setattr(customers_demo, "PEOPLE", 60)
    monkeypatch.setattr(customers_demo, "ORGANIZATIONS", 8)
    monkeypatch.setattr(dedupe_demo, "DUPLICATES", 4)
    for loader in registry.demo_loaders():
        loader.load()
    admin = User.objects.get(email="admin@example.com")
    admin.set_password(PASSWORD)
    admin.save()
    return admin


def _crawl(page: Any, base: str, violations: Violations) -> set[str]:
    """Follow every same-site link from the start page (a few of each kind)."""
    seen: set[str] = set()
    per_pattern: dict[str, int] = {}
    queue = ["/"]
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        if path in seen or SKIP.search(path):
            continue
        pattern = _pattern(urlsplit(path).path)
        if per_pattern.get(pattern, 0) >= PER_PATTERN:
            continue
        seen.add(path)
        head = page.request.get(base + path, max_redirects=0)
        if not head.headers.get("content-type", "").startswith("text/html"):
            continue
        per_pattern[pattern] = per_pattern.get(pattern, 0) + 1
        response = page.goto(base + path)
        assert response is not None and response.status < 500, path
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        page.wait_for_load_state("load")
        violations.check(path)
        for href in page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)"):
            parts = urlsplit(href)
            if href.startswith(base) and parts.path:
                queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return seen


def test_every_page_loads_under_the_policy_with_no_violation(page, live_server, monkeypatch):
    admin = _demo(monkeypatch)
    base = live_server.url
    violations = Violations(page, base)

    # Logged out: login and password reset.
    for name in ("identity:login", "identity:password_reset"):
        page.goto(base + reverse(name))
        violations.check(name)

    login(page, live_server, admin)
    seen = _crawl(page, base, violations)
    patterns = {_pattern(urlsplit(p).path) for p in seen}
    assert len(patterns) > 40, sorted(patterns)
    for expected in (
        "/",
        "/customers/",
        "/customers/N/",
        "/commerce/orders/",
        "/duplicates/",
        "/imports/new/",
        "/settings/",
        "/integrations/",
        "/jobs/",
        "/admin-tools/audit/",
        "/two-factor/",
        "/api/v1/docs",
        "/admin/",
    ):
        assert any(p.startswith(expected) for p in patterns), (expected, sorted(patterns))

    # htmx at work: global search suggestions, a note added without a reload.
    customer = Customer.objects.filter(kind="person").order_by("pk").first()
    assert customer is not None
    page.goto(base + customer.get_absolute_url())
    page.fill("#global-search-input", customer.last_name[:4])
    page.wait_for_selector("#search-suggestions .suggestion")
    page.fill("#note-form textarea", "Checked under the CSP.")
    page.click("#note-form button[type=submit]")
    page.wait_for_selector("#timeline-list :text('Checked under the CSP.')")
    assert page.input_value("#note-form textarea") == ""  # was an hx-on handler
    violations.check("note")

    # The import wizard: upload, mapping, dry run.
    page.goto(base + reverse("dataquality:import_new"))
    page.set_input_files(
        "input[type=file]",
        files=[
            {
                "name": "people.csv",
                "mimeType": "text/csv",
                "buffer": b"external_id,first_name,last_name,email\nZ1,Ada,Lovelace,ada@x.org\n",
            }
        ],
    )
    page.locator("form[enctype] button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/imports/[0-9a-f-]+/"))
    page.wait_for_selector(".wizard-steps")
    violations.check("import wizard")

    # API docs: Swagger UI from our own static files renders the operations.
    page.goto(base + "/api/v1/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    page.locator(".swagger-ui .opblock-get .opblock-summary").first.click()
    page.locator(".swagger-ui .try-out__btn").first.click()  # its selects draw data: images
    page.wait_for_selector(".swagger-ui .opblock-body select")
    violations.check("api docs")

    # Two-factor: set up (QR code), confirm, backup codes; then the login verify step.
    page.goto(base + reverse("identity:two_factor"))
    page.locator("form[action$='/two-factor/setup/'] button").click()
    page.wait_for_selector("form[action$='/two-factor/confirm/']")
    violations.check("two-factor setup")
    device = TOTPDevice.objects.get(user=admin)
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    page.fill("form[action$='/two-factor/confirm/'] input[name=token]", f"{code:06d}")
    page.locator("form[action$='/two-factor/confirm/'] button[type=submit]").click()
    page.wait_for_selector("[data-testid=backup-codes]")
    violations.check("backup codes")
    page.context.clear_cookies()
    page.goto(base + reverse("identity:login"))
    page.fill("input[name=username]", admin.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/login/verify/")
    violations.check("login verify")


def test_confirm_autosubmit_and_palette_work_without_inline_handlers(page, live_server):
    admin = UserFactory(is_superuser=True, is_staff=True)
    violations = Violations(page, live_server.url)
    login(page, live_server, admin)

    page.goto(live_server.url + reverse("core:home"))
    page.click("[data-open-palette]")  # was onclick="document.dispatchEvent(...)"
    page.wait_for_selector("#palette-input:focus")

    page.goto(live_server.url + reverse("dedupe:queue"))
    page.select_option("#min-probability", index=1)  # was onchange="this.form.submit()"
    page.wait_for_url(re.compile(r"[?&]min="))

    from rapport.integrations.models import WebhookEndpoint
    from rapport.integrations.services import endpoint_create

    endpoint, _ = endpoint_create(
        actor=admin, url="https://hooks.example.com/x", event_types=["customer.created"]
    )
    page.goto(live_server.url + reverse("integrations:detail", args=[endpoint.pk]))
    answers = iter([False, True])  # was onsubmit="return confirm(...)"
    page.on("dialog", lambda d: d.accept() if next(answers) else d.dismiss())
    delete = page.locator("form[data-confirm^='Delete'] button")
    delete.click()  # dismissed: the submit was prevented before the click returned
    assert page.url.endswith(reverse("integrations:detail", args=[endpoint.pk]))
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    delete.click()
    page.wait_for_url(lambda url: f"/{endpoint.pk}/" not in url)
    violations.check("handlers")
