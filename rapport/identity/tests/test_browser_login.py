"""Real Chromium through the real login page: the shell appears; the 2FA login works."""

from __future__ import annotations

import pytest
from django_otp.oath import totp

from rapport.identity.tests.conftest import enrol
from rapport.identity.tests.factories import PASSWORD, RoleFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, email: str, next_path: str = "") -> None:
    page.goto(f"{live_server.url}/login/{next_path}")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_login_through_the_real_page_shows_the_shell(page, live_server):
    role = RoleFactory(name="Administrator", is_admin=True)
    UserFactory(email="ann@example.com", full_name="Ann Admin", role=role, teams=[TeamFactory()])
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.screenshot(path="/tmp/identity_login.png")
    log_in(page, live_server, "ann@example.com")

    page.wait_for_url(f"{live_server.url}/")
    nav = page.get_by_role("complementary", name="Main navigation")
    assert nav.get_by_role("link", name="Customers").is_visible()
    assert nav.get_by_role("link", name="Settings").is_visible()
    page.get_by_label("User menu").click()
    menu = page.locator(".user-menu .menu")
    for label in ["Profile", "Two-factor login", "API keys"]:
        assert menu.get_by_role("link", name=label).is_visible()
    assert menu.get_by_role("button", name="Log out").is_visible()

    # Every user-menu link opens a finished page.
    menu.get_by_role("link", name="Profile").click()
    page.wait_for_url("**/profile/")
    assert page.get_by_role("heading", name="Profile").is_visible()
    page.screenshot(path="/tmp/identity_profile.png", full_page=True)
    page.goto(f"{live_server.url}/api-keys/")
    page.get_by_label("Name").fill("Webshop")
    page.get_by_label("Customers").select_option("read")
    page.get_by_role("button", name="Create key").click()
    assert page.get_by_test_id("new-api-key").inner_text().startswith("rk_")
    page.screenshot(path="/tmp/identity_api_keys.png", full_page=True)
    page.goto(f"{live_server.url}/two-factor/")
    page.get_by_role("button", name="Set up two-factor login").click()
    assert page.locator(".qr-box svg").is_visible()
    page.screenshot(path="/tmp/identity_two_factor.png", full_page=True)
    for path, name in [
        ("/settings/users/", "users"),
        ("/settings/users/new/", "user_new"),
        ("/settings/teams/", "teams"),
        ("/settings/roles/new/", "role_new"),
    ]:
        page.goto(f"{live_server.url}{path}")
        assert page.get_by_role("heading").first.is_visible()
        page.screenshot(path=f"/tmp/identity_settings_{name}.png", full_page=True)

    # On a phone the pages fit the screen: wide tables scroll inside their card.
    page.set_viewport_size({"width": 390, "height": 844})
    for path, name in [
        ("/settings/roles/new/", "role_phone"),
        ("/api-keys/", "api_keys_phone"),
        ("/profile/", "profile_phone"),
    ]:
        page.goto(f"{live_server.url}{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        page.screenshot(path=f"/tmp/identity_{name}.png", full_page=True)
        assert overflow <= 0, (path, overflow)

    page.get_by_label("User menu").click()
    page.locator(".user-menu").get_by_role("button", name="Log out", exact=True).click()
    page.wait_for_url("**/login/")
    assert page.get_by_text("You are logged out.").is_visible()


def test_two_factor_login_in_chromium(page, live_server):
    user = UserFactory(email="ann@example.com")
    device = enrol(user)
    log_in(page, live_server, "ann@example.com", next_path="?next=/profile/")
    page.wait_for_url("**/login/verify/")
    page.screenshot(path="/tmp/identity_login_verify.png")
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    page.get_by_label("Code").fill(f"{code:06d}")
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/profile/")
    assert page.get_by_role("heading", name="Profile").is_visible()
    assert page.get_by_text("On", exact=True).first.is_visible()
