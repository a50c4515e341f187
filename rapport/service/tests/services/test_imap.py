"""IMAP polling against a real dovecot: the round trip, chosen folders, a restart in the
middle of a sync, a renumbered folder, failures written on the mailbox, and the alert
when a mailbox stops syncing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from rapport.core.models import OutboxEvent
from rapport.service import services
from rapport.service.models import Mailbox, MailboxFolder, Message, Ticket
from rapport.service.services import imap as imap_module
from rapport.service.services import mail_in
from rapport.service.tests.factories import mailbox, raw_mail

pytestmark = pytest.mark.django_db


def box_for(imap: Any, user: str, folders: list[str] | None = None) -> Mailbox:
    return mailbox(
        imap_host=imap.host,
        imap_port=imap.port,
        imap_security="none",
        imap_user=user,
        imap_password="secret",
        folders=folders or ["INBOX"],
    )


def mails(n: int, start: int = 0) -> list[bytes]:
    return [
        raw_mail(
            sender=f"Customer {i} <c{i}@example.com>",
            subject=f"Question {i}",
            message_id=f"<q{i}@example.com>",
        )
        for i in range(start, start + n)
    ]


def test_round_trip_creates_tickets_once(imap: Any, imap_user: str) -> None:
    for raw in mails(3):
        imap.deliver(imap_user, raw)
    box = box_for(imap, imap_user)
    result = services.mailbox_poll(mailbox=box)
    assert result.fetched == 3 and result.outcomes == {"created": 3} and not result.errors
    assert Ticket.objects.count() == 3
    # Nothing new: a second poll fetches nothing.
    assert services.mailbox_poll(mailbox=box).fetched == 0
    imap.deliver(imap_user, mails(1, start=3)[0])
    assert services.mailbox_poll(mailbox=box).fetched == 1
    box.refresh_from_db()
    assert box.last_success_at is not None and box.consecutive_failures == 0
    state = MailboxFolder.objects.get(mailbox=box, folder="INBOX")
    assert state.last_uid == 4 and state.uidvalidity and state.backlog == 0
    # The password is encrypted in the table, not stored in clear.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT imap_password FROM service_mailbox WHERE id = %s", [box.pk])
        assert cursor.fetchone()[0] != "secret"


def test_every_chosen_folder_is_polled(imap: Any, imap_user: str) -> None:
    imap.deliver(imap_user, mails(1)[0])
    imap.deliver(imap_user, mails(1, start=1)[0], folder="Escalations")
    imap.deliver(imap_user, mails(1, start=2)[0], folder="Archive 2026")
    box = box_for(imap, imap_user, folders=["INBOX", "Escalations", "Archive 2026"])
    assert services.mailbox_poll(mailbox=box).fetched == 3
    assert set(MailboxFolder.objects.filter(mailbox=box).values_list("folder", flat=True)) == {
        "INBOX",
        "Escalations",
        "Archive 2026",
    }


def test_a_restart_mid_sync_neither_duplicates_nor_misses(
    imap: Any, imap_user: str, monkeypatch: Any
) -> None:
    for raw in mails(6):
        imap.deliver(imap_user, raw)
    box = box_for(imap, imap_user)
    real = mail_in.email_ingest
    calls = {"n": 0}

    def crash_on_the_fourth(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise SystemExit("worker killed")  # not an error the poller catches
        return real(**kwargs)

    monkeypatch.setattr(imap_module, "email_ingest", crash_on_the_fourth)
    with pytest.raises(SystemExit):
        services.mailbox_poll(mailbox=box)
    assert Ticket.objects.count() == 3
    assert MailboxFolder.objects.get(mailbox=box).last_uid == 3
    monkeypatch.setattr(imap_module, "email_ingest", real)
    assert services.mailbox_poll(mailbox=box).fetched == 3  # the restart takes the rest
    assert Ticket.objects.count() == 6
    assert Message.objects.values("message_id").distinct().count() == 6


def test_a_backlog_is_taken_in_batches(imap: Any, imap_user: str, monkeypatch: Any) -> None:
    for raw in mails(5):
        imap.deliver(imap_user, raw)
    box = box_for(imap, imap_user)
    monkeypatch.setattr(imap_module, "BATCH", 2)
    assert services.mailbox_poll(mailbox=box).fetched == 2
    assert MailboxFolder.objects.get(mailbox=box).backlog == 3
    assert box.backlog == 3
    services.mailbox_poll(mailbox=box)
    services.mailbox_poll(mailbox=box)
    assert Ticket.objects.count() == 5


def test_a_renumbered_folder_is_read_again_without_duplicates(imap: Any, imap_user: str) -> None:
    for raw in mails(2):
        imap.deliver(imap_user, raw)
    box = box_for(imap, imap_user)
    services.mailbox_poll(mailbox=box)
    MailboxFolder.objects.filter(mailbox=box).update(uidvalidity=1, last_uid=99)
    result = services.mailbox_poll(mailbox=box)
    assert result.outcomes == {"duplicate": 2}
    assert Ticket.objects.count() == 2
    assert MailboxFolder.objects.get(mailbox=box).last_uid == 2


def test_a_bad_message_is_kept_and_skipped_not_a_stop(
    imap: Any, imap_user: str, monkeypatch: Any, settings: Any
) -> None:
    for raw in mails(3):
        imap.deliver(imap_user, raw)
    box = box_for(imap, imap_user)
    real = mail_in.email_ingest

    def fail_second(**kwargs: Any) -> Any:
        if b"Question 1" in kwargs["raw"]:
            raise ValueError("cannot parse")
        return real(**kwargs)

    monkeypatch.setattr(imap_module, "email_ingest", fail_second)
    result = services.mailbox_poll(mailbox=box)
    assert result.outcomes == {"created": 2, "error": 1}
    box.refresh_from_db()
    assert "cannot parse" in box.last_error and box.consecutive_failures == 1
    kept = list((settings.VAR_DIR / "files" / "service" / "failed").rglob("*.eml"))
    assert len(kept) == 1


def test_login_failure_is_recorded(imap: Any, imap_user: str) -> None:
    box = box_for(imap, imap_user)
    box.imap_password = "wrong"
    box.save()
    result = services.mailbox_poll(mailbox=box)
    assert result.errors
    box.refresh_from_db()
    assert box.last_error.startswith("Cannot connect or log in") and box.last_success_at is None
    assert box.consecutive_failures == 1


def test_poll_all_and_stale_alert(
    imap: Any, imap_user: str, smtp: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from rapport.identity.tests.factories import UserFactory

    UserFactory(is_superuser=True, email="admin@shop.example")
    good = box_for(imap, imap_user)
    broken = mailbox(
        name="Broken",
        email_address="sales@shop.example",
        imap_host="127.0.0.1",
        imap_port=1,
        imap_security="none",
        imap_user="x",
        imap_password="y",
    )
    Mailbox.objects.filter(pk=broken.pk).update(created_at=timezone.now() - dt.timedelta(hours=2))
    results = services.mailbox_poll_all()
    assert set(results) == {good.pk, broken.pk} and results[broken.pk].errors
    with django_capture_on_commit_callbacks(execute=True):
        stale = services.mailboxes_check_stale()
    assert [m.pk for m in stale] == [broken.pk]
    assert OutboxEvent.objects.filter(type="mailbox.sync_stale").count() == 1
    assert smtp.to("admin@shop.example")
    assert services.mailboxes_check_stale() == []  # one alert until it syncs again
