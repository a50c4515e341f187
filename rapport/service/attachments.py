"""Attachment files: stored under VAR_DIR/files/service/, content-addressed per message,
and never served by the web server itself (only through a view that checks the ticket)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from django.conf import settings

from rapport.service.models import Attachment, Message

MAX_ATTACHMENT = 25 * 1024 * 1024
_UNSAFE = re.compile(r"[^\w.\- ]+")


def root() -> Path:
    return Path(settings.VAR_DIR) / "files"


def safe_filename(name: str) -> str:
    name = _UNSAFE.sub("_", (name or "").replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")
    return name[:200] or "attachment"


def store(
    message: Message, filename: str, content_type: str, content: bytes, cid: str
) -> Attachment:
    """Write the file and its row (inside the message's transaction; a rollback leaves an
    orphan file at worst, never a row without its file)."""
    digest = hashlib.sha256(content).hexdigest()
    relative = f"service/{message.ticket_id}/{message.pk}/{digest[:16]}"
    target = root() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content[:MAX_ATTACHMENT])
    return Attachment.objects.create(
        message=message,
        filename=safe_filename(filename),
        content_type=(content_type or "application/octet-stream")[:150],
        size=len(content),
        sha256=digest,
        path=relative,
        content_id=(cid or "").strip("<>")[:255],
    )


def path_of(attachment: Attachment) -> Path:
    path = (root() / attachment.path).resolve()
    if root().resolve() not in path.parents:
        raise FileNotFoundError(attachment.path)
    return path
