"""Password-reset tokens that die when the password changes or the account is deactivated."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.tokens import PasswordResetTokenGenerator


class ResetTokenGenerator(PasswordResetTokenGenerator):
    """Django's generator hashes the password, last login and e-mail; we add `is_active`.

    Any of them changing invalidates every link sent before, so a link e-mailed to a user
    who is then deactivated does not work while the account is inactive. (Links live
    PASSWORD_RESET_TIMEOUT, two hours; one reactivated within that time and still unused
    would work again, which is why deactivation also ends sessions and API keys.)
    """

    key_salt = "rapport.identity.tokens.ResetTokenGenerator"

    def _make_hash_value(self, user: Any, timestamp: int) -> str:
        return f"{super()._make_hash_value(user, timestamp)}{int(bool(user.is_active))}"


reset_token_generator = ResetTokenGenerator()
