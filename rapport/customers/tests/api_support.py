"""Helpers for the customers API tests: an authenticated client per API key."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from rapport.customers.services import CustomerInput, EmailInput, PhoneInput, customer_create


class ApiClient:
    """Django's test client speaking JSON with `Authorization: Bearer <key>`."""

    def __init__(self, raw_key: str | None) -> None:
        self.client = Client()
        self.headers: dict[str, str] = {}
        if raw_key:
            self.headers["Authorization"] = f"Bearer {raw_key}"

    def _send(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        kwargs: dict[str, Any] = {"headers": {**self.headers, **headers}}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        return getattr(self.client, method)(f"/api/v1{path}", **kwargs)

    def get(self, path: str, **headers: str) -> Any:
        return self._send("get", path, **headers)

    def post(self, path: str, body: Any, **headers: str) -> Any:
        return self._send("post", path, body, **headers)

    def patch(self, path: str, body: Any, **headers: str) -> Any:
        return self._send("patch", path, body, **headers)

    def delete(self, path: str, **headers: str) -> Any:
        return self._send("delete", path, **headers)


def make_person(actor: Any, n: int = 0, **fields: Any) -> Any:
    data = CustomerInput(
        kind="person",
        first_name=fields.pop("first_name", f"Ada{n}"),
        last_name=fields.pop("last_name", f"Lovelace{n}"),
        emails=fields.pop("emails", [EmailInput(email=f"ada{n}@example.com")]),
        phones=fields.pop("phones", [PhoneInput(number=f"+1 202 555 {1000 + n:04d}")]),
        tags=fields.pop("tags", ["vip", f"t{n % 3}"]),
        **fields,
    )
    return customer_create(actor=actor, data=data)
