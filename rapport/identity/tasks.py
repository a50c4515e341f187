"""Identity e-mails, sent by the worker: password-reset and set-your-password links."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tasks import task

from rapport.identity.models import User
from rapport.identity.tokens import reset_token_generator

SUBJECTS = {
    "reset": "Reset your Rapport password",
    "invite": "Set your Rapport password",
}


def password_link(user: User) -> str:
    """The one-time link to set `user`'s password. Built on SITE_URL, never on the
    request's Host header, so a forged Host cannot point the link at another site."""
    path = reverse(
        "identity:password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": reset_token_generator.make_token(user),
        },
    )
    return settings.SITE_URL + path


@task()
def send_password_email(user_id: int, purpose: str) -> bool:
    """Send the reset ("reset") or welcome ("invite") e-mail; False when the user is gone
    or inactive (the token is made here, so a queued mail never carries a stale link)."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or purpose not in SUBJECTS:
        return False
    context = {
        "user": user,
        "link": password_link(user),
        "purpose": purpose,
        "valid_hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
        "site_url": settings.SITE_URL,
    }
    send_mail(
        subject=SUBJECTS[purpose],
        message=render_to_string("identity/email/password_link.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )
    return True
