"""Encryption at rest for secrets that integrations store (SMTP/IMAP passwords, webhook
secrets): Fernet with a key derived from FIELD_ENCRYPTION_KEY."""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models


@cache
def _fernet() -> Fernet:
    digest = hashlib.sha256(("rapport-field-encryption:" + settings.FIELD_ENCRYPTION_KEY).encode())
    return Fernet(base64.urlsafe_b64encode(digest.digest()))


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("The stored secret cannot be decrypted with the current key.") from exc


class EncryptedTextField(models.TextField):
    """A text column stored encrypted; reads decrypt, writes encrypt. Never filter on it."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)
