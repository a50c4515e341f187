"""Commerce detail and form pages on core's generic pages: scope is a 404, a stale
version is a conflict shown on the form, and a post needs its CSRF token."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from rapport.commerce.models import Product
from rapport.commerce.tests.factories import ProductFactory, commerce_user

pytestmark = pytest.mark.django_db


def _client(user: Any, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def test_an_order_outside_the_users_scope_is_a_404(world: Any) -> None:
    rep = _client(world.rep)
    assert rep.get(world.orders["rep"].get_absolute_url()).status_code == 200
    assert rep.get(world.orders["south"].get_absolute_url()).status_code == 404
    assert rep.get("/commerce/orders/999999999/").status_code == 404


def test_a_stale_version_is_a_conflict_above_the_form_and_nothing_is_saved() -> None:
    product = ProductFactory(name="Sencha")
    client = _client(commerce_user())
    form = {"sku": product.sku, "name": "Sencha, 100 g", "price": "9.00", "currency": "EUR"}
    stale = client.post(f"/commerce/products/{product.pk}/edit/", {**form, "version": "999"})
    assert stale.status_code == 200
    assert "changed by someone else" in stale.content.decode()
    product.refresh_from_db()
    assert product.name == "Sencha"
    version = str(product.version)
    saved = client.post(f"/commerce/products/{product.pk}/edit/", {**form, "version": version})
    assert saved.status_code == 302
    product.refresh_from_db()
    assert product.name == "Sencha, 100 g"


def test_the_edit_form_shows_the_record_and_its_version() -> None:
    product = ProductFactory(name="Sencha")
    html = _client(commerce_user()).get(f"/commerce/products/{product.pk}/edit/").content.decode()
    assert 'value="Sencha"' in html
    assert f'name="version" value="{product.version}"' in html
    assert "csrfmiddlewaretoken" in html


def test_a_post_without_the_csrf_token_is_refused() -> None:
    client = _client(commerce_user(), enforce_csrf_checks=True)
    form = {"sku": "X-1", "name": "X", "price": "1.00", "currency": "EUR"}
    assert client.post("/commerce/products/new/", form).status_code == 403
    assert not Product.objects.filter(sku="X-1").exists()
