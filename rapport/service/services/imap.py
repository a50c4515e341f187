"""IMAP polling: every folder the admin chose, by UID under UIDVALIDITY, one message per
transaction, so a restart resumes after the last message taken, nothing is fetched twice
and nothing is skipped. Every failure is written on the mailbox (the health page and the
stale-sync alert read it); a message that cannot be taken is kept on disk and skipped,
so one bad mail never stops the mailbox."""

from __future__ import annotations

import contextlib
import datetime as dt
import imaplib
import logging
import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from rapport.core import outbox
from rapport.service.models import Mailbox, MailboxFolder
from rapport.service.services.mail_in import email_ingest

logger = logging.getLogger(__name__)
BATCH = 200  # messages per folder per run; the backlog shows what is left
TIMEOUT = 60


@dataclass
class PollResult:
    fetched: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _connect(mailbox: Mailbox) -> imaplib.IMAP4:
    if mailbox.imap_security == "ssl":
        conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            mailbox.imap_host,
            mailbox.imap_port,
            ssl_context=ssl.create_default_context(),
            timeout=TIMEOUT,
        )
    else:
        conn = imaplib.IMAP4(mailbox.imap_host, mailbox.imap_port, timeout=TIMEOUT)
        if mailbox.imap_security == "starttls":
            conn.starttls(ssl.create_default_context())
    conn.login(mailbox.imap_user, mailbox.imap_password)
    return conn


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _uidvalidity(conn: imaplib.IMAP4) -> int:
    data = conn.response("UIDVALIDITY")[1]
    if data and data[0]:
        return int(data[0])
    _, status = conn.status(_quote(conn._selected_folder), "(UIDVALIDITY)")
    match = re.search(rb"UIDVALIDITY (\d+)", status[0] or b"")
    return int(match.group(1)) if match else 0


def _keep_failed(mailbox: Mailbox, folder: str, uid: int, raw: bytes) -> None:
    target = Path(settings.VAR_DIR) / "files" / "service" / "failed" / str(mailbox.pk)
    target.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^\w.-]+", "_", folder)
    (target / f"{safe}-{uid}.eml").write_bytes(raw)


def _poll_folder(conn: imaplib.IMAP4, mailbox: Mailbox, folder: str, result: PollResult) -> None:
    typ, _ = conn.select(_quote(folder), readonly=True)
    if typ != "OK":
        raise imaplib.IMAP4.error(f"Cannot open folder {folder!r}.")
    conn._selected_folder = folder  # type: ignore[attr-defined]
    validity = _uidvalidity(conn)
    state, _ = MailboxFolder.objects.get_or_create(mailbox=mailbox, folder=folder)
    if state.uidvalidity != validity:
        # The server renumbered the folder: start over; Message-IDs keep it idempotent.
        state.uidvalidity, state.last_uid = validity, 0
        state.save(update_fields=["uidvalidity", "last_uid"])
    typ, data = conn.uid("SEARCH", f"UID {state.last_uid + 1}:*")
    uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > state.last_uid)
    for uid in uids[:BATCH]:
        typ, fetched = conn.uid("FETCH", str(uid), "(BODY.PEEK[])")
        raw = next((p[1] for p in fetched if isinstance(p, tuple)), None)
        if typ != "OK" or raw is None:
            continue  # expunged between SEARCH and FETCH
        try:
            with transaction.atomic():
                outcome = email_ingest(mailbox=mailbox, raw=raw).outcome
                MailboxFolder.objects.filter(pk=state.pk).update(last_uid=uid)
        except Exception as exc:
            logger.exception("Mailbox %s: message %s/%s failed", mailbox.pk, folder, uid)
            _keep_failed(mailbox, folder, uid, raw)
            MailboxFolder.objects.filter(pk=state.pk).update(last_uid=uid)
            result.errors.append(f"{folder} UID {uid}: {type(exc).__name__}: {exc}")
            outcome = "error"
        result.fetched += 1
        result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
    MailboxFolder.objects.filter(pk=state.pk).update(
        backlog=max(len(uids) - BATCH, 0), last_synced_at=timezone.now()
    )


def mailbox_poll(*, mailbox: Mailbox) -> PollResult:
    """Fetch what is new in each of the mailbox's folders (INBOX when none is chosen)."""
    result = PollResult()
    now = timezone.now()
    Mailbox.objects.filter(pk=mailbox.pk).update(last_sync_at=now)
    try:
        conn = _connect(mailbox)
    except (OSError, imaplib.IMAP4.error) as exc:
        _record_failure(mailbox, f"Cannot connect or log in: {type(exc).__name__}: {exc}")
        result.errors.append(str(exc))
        return result
    try:
        for folder in mailbox.folders or ["INBOX"]:
            try:
                _poll_folder(conn, mailbox, folder, result)
            except (OSError, imaplib.IMAP4.error) as exc:
                result.errors.append(f"{folder}: {type(exc).__name__}: {exc}")
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            conn.logout()
    if result.errors:
        _record_failure(mailbox, "; ".join(result.errors)[:2000])
    else:
        Mailbox.objects.filter(pk=mailbox.pk).update(
            last_success_at=timezone.now(), consecutive_failures=0, alerted_at=None
        )
    return result


def _record_failure(mailbox: Mailbox, error: str) -> None:
    Mailbox.objects.filter(pk=mailbox.pk).update(
        last_error=error,
        last_error_at=timezone.now(),
        consecutive_failures=F("consecutive_failures") + 1,
    )


@transaction.atomic
def mailboxes_check_stale(*, now: dt.datetime | None = None) -> list[Mailbox]:
    """Mailboxes that have not synced for longer than their limit: one alert each (an
    event, and an e-mail to the administrators) until they sync again."""
    now = now or timezone.now()
    stale = []
    for mailbox in Mailbox.objects.select_for_update().filter(enabled=True).exclude(imap_host=""):
        since = mailbox.last_success_at or mailbox.created_at
        if now - since < dt.timedelta(minutes=mailbox.alert_after_minutes):
            continue
        if mailbox.alerted_at is not None:
            continue
        mailbox.alerted_at = now
        mailbox.save(update_fields=["alerted_at"])
        outbox.emit(
            "mailbox.sync_stale",
            {
                "mailbox_id": mailbox.pk,
                "email_address": mailbox.email_address,
                "last_success_at": since.isoformat(),
                "last_error": mailbox.last_error,
            },
            aggregate=mailbox,
        )
        stale.append(mailbox)
    if stale:
        names = [m.pk for m in stale]
        transaction.on_commit(lambda: _mail_admins(names))
    return stale


def _mail_admins(mailbox_ids: list[int]) -> None:
    from django.contrib.auth import get_user_model
    from django.core.mail import send_mail

    rows = Mailbox.objects.filter(pk__in=mailbox_ids)
    admins = list(
        get_user_model()
        .objects.filter(Q(is_superuser=True), is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not admins:
        return
    lines = [
        f"- {m.name} <{m.email_address}>: last successful sync "
        f"{m.last_success_at or 'never'}; last error: {m.last_error or 'none'}"
        for m in rows
    ]
    send_mail(
        "Rapport: a mailbox has stopped syncing",
        "These mailboxes have not synced for longer than their limit:\n\n"
        + "\n".join(lines)
        + "\n\nSee Service > Mailboxes for their health.",
        None,
        admins,
        fail_silently=True,
    )


def mailbox_poll_all(*, actor: Any = None) -> dict[int, PollResult]:
    """Poll every enabled mailbox with an IMAP server (the scheduled task)."""
    del actor  # the system polls; kept for the service signature
    return {
        m.pk: mailbox_poll(mailbox=m)
        for m in Mailbox.objects.filter(enabled=True).exclude(imap_host="")
    }
