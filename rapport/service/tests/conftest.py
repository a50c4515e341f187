"""Fixtures of the service tests: the real SMTP server of identity's tests, and a real
IMAP server (dovecot, see imap_server.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rapport.identity.tests.conftest import smtp  # noqa: F401
from rapport.service.tests import imap_server


@pytest.fixture(scope="session")
def imap() -> Iterator[imap_server.ImapServer]:
    yield from imap_server.start()


@pytest.fixture
def imap_user(imap: imap_server.ImapServer) -> Any:
    """A fresh IMAP account (its own empty maildir) for one test."""
    return imap.user()
