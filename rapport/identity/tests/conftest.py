"""Identity test fixtures: administrators, TOTP codes, and a real SMTP server."""

from __future__ import annotations

import email
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from rapport.identity.models import Role, User
from rapport.identity.tests.factories import PASSWORD, RoleFactory, UserFactory

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def login_as(client: Client, user: User) -> Client:
    """A logged-in session without the login page (tests of the login page use it)."""
    client.force_login(user, backend=MODEL_BACKEND)
    return client


def code_for(device: TOTPDevice, drift: int = 0) -> str:
    """The code an authenticator app shows now (drift 1: the next 30-second step, which a
    device accepts too; used when the current step's code was spent already)."""
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift)
    return f"{code:06d}"


def enrol(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


@pytest.fixture
def no_otp_throttle(settings: Any) -> None:
    """django-otp makes a device wait 2^n seconds after n wrong codes; tests that send a
    wrong code and then the right one at once switch that off (our own rate limit stays)."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


@pytest.fixture
def admin_role(db: Any) -> Role:
    return RoleFactory(name="Administrator", is_admin=True)


@pytest.fixture
def admin_user(admin_role: Role) -> User:
    return UserFactory(email="boss@example.com", role=admin_role)


@pytest.fixture
def admin_client(client: Client, admin_user: User) -> Client:
    return login_as(client, admin_user)


@pytest.fixture
def password() -> str:
    return PASSWORD


@dataclass
class Mailbox:
    """What the in-process SMTP server received."""

    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if address in m["To"]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp(settings: Any, immediate_tasks: None) -> Iterator[Mailbox]:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) that Django's SMTP backend talks to;
    tasks run at once so a queued e-mail is sent before the request returns."""
    mailbox = Mailbox()
    port = _free_port()
    # aiosmtpd logs every connection at INFO from its own thread, which can outlive the
    # test's captured output ("Logging error … I/O operation on closed file" in CI).
    server_log = logging.getLogger("mail.log")
    level = server_log.level
    server_log.setLevel(logging.WARNING)
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    try:
        yield mailbox
    finally:
        controller.stop()
        server_log.setLevel(level)
