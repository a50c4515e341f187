"""Fixtures of the service tests: the real SMTP server of identity's tests."""

from rapport.identity.tests.conftest import smtp  # noqa: F401
