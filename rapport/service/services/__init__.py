"""Writes of the service app, one module per business area, re-exported here: callers
import `rapport.service.services`."""

from rapport.service.services.imap import (
    PollResult,
    mailbox_poll,
    mailbox_poll_all,
    mailboxes_check_stale,
)
from rapport.service.services.mail_in import IngestResult, email_ingest
from rapport.service.services.mail_out import compose, message_deliver
from rapport.service.services.setup import (
    MailboxInput,
    SLAPolicyInput,
    agent_signature_save,
    calendar_save,
    mailbox_rotate_webhook_token,
    mailbox_save,
    queue_save,
    sla_policy_save,
    status_save,
    webhook_token_hash,
)
from rapport.service.services.sla_watch import WatchResult, sla_check_breaches
from rapport.service.services.tickets import (
    MessageInput,
    TicketInput,
    message_receive,
    statuses_seed,
    ticket_add_note,
    ticket_assign,
    ticket_create,
    ticket_delete,
    ticket_merge,
    ticket_reply,
    ticket_set_status,
    ticket_update,
)

__all__ = [
    "IngestResult",
    "MailboxInput",
    "MessageInput",
    "PollResult",
    "SLAPolicyInput",
    "TicketInput",
    "WatchResult",
    "agent_signature_save",
    "calendar_save",
    "compose",
    "email_ingest",
    "mailbox_poll",
    "mailbox_poll_all",
    "mailbox_rotate_webhook_token",
    "mailbox_save",
    "mailboxes_check_stale",
    "message_deliver",
    "message_receive",
    "queue_save",
    "sla_check_breaches",
    "sla_policy_save",
    "status_save",
    "statuses_seed",
    "ticket_add_note",
    "ticket_assign",
    "ticket_create",
    "ticket_delete",
    "ticket_merge",
    "ticket_reply",
    "ticket_set_status",
    "ticket_update",
    "webhook_token_hash",
]
