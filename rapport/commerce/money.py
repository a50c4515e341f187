"""Exact money: Decimal amounts with two decimal places and ISO 4217 currency codes.

Floats never touch an amount. Input is parsed from str/int/Decimal (a float is refused,
since 0.1 as a float is not 0.1), and an amount with more precision than the cent is
refused rather than silently rounded.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

import pycountry
from django.core.exceptions import ValidationError

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# Decimal(12,2): up to 9,999,999,999.99 per amount.
MAX_AMOUNT = Decimal("9999999999.99")


@cache
def currency_codes() -> frozenset[str]:
    """Every active ISO 4217 alphabetic code (from pycountry's ISO 4217 table)."""
    return frozenset(c.alpha_3 for c in pycountry.currencies)


def normalize_currency(value: Any) -> str:
    """'eur ' -> 'EUR'; anything that is not an ISO 4217 code is refused."""
    code = str(value or "").strip().upper()
    if not code:
        raise ValidationError("Give a currency (an ISO 4217 code such as EUR or USD).")
    if code not in currency_codes():
        raise ValidationError(f"{value!r} is not an ISO 4217 currency code (e.g. EUR, USD).")
    return code


def parse_amount(value: Any, *, allow_negative: bool = False) -> Decimal:
    """A Decimal with exactly two places from str/int/Decimal; floats and sub-cent refused."""
    if isinstance(value, bool | float):
        raise ValidationError('Send amounts as strings or integers (e.g. "19.90"), not floats.')
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError("Give an amount.")
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation as exc:
        raise ValidationError(f"{value!r} is not an amount.") from exc
    if not amount.is_finite():
        raise ValidationError(f"{value!r} is not an amount.")
    if amount < 0 and not allow_negative:
        raise ValidationError(f"{value} is negative; amounts must be zero or more.")
    # Before quantize: 1E+300 has more digits than Decimal's context and would raise.
    if abs(amount) > MAX_AMOUNT:
        raise ValidationError(f"{value} is larger than the largest amount ({MAX_AMOUNT}).")
    if amount != amount.quantize(CENT):
        raise ValidationError(f"{value} has more than two decimal places.")
    return amount.quantize(CENT)


def format_money(amount: Decimal | None, currency: str) -> str:
    """'1,234.50 EUR' for pages (no locale guessing: the code is unambiguous)."""
    if amount is None:
        return ""
    return f"{amount:,.2f} {currency}"
