"""Normalisation of customer data on every write and import: one function per kind of
value, each returning the canonical form or raising ValidationError with a message a
user can act on. Imports call these per cell; services call them per field."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from functools import lru_cache
from typing import Any

import phonenumbers
import pycountry
from django.conf import settings
from django.core.exceptions import ValidationError
from email_validator import EmailNotValidError, validate_email

_SPACES = re.compile(r"\s+")


def clean_text(value: str | None, *, max_length: int | None = None) -> str:
    """Trim, collapse inner whitespace, drop control characters."""
    if not value:
        return ""
    text = "".join(ch for ch in str(value) if ch.isprintable() or ch == " ")
    text = _SPACES.sub(" ", text).strip()
    if max_length is not None and len(text) > max_length:
        raise ValidationError(f"Too long: at most {max_length} characters, got {len(text)}.")
    return text


_PARTICLES = {"van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "la", "le", "y"}


def normalize_name(value: str | None, *, max_length: int = 100) -> str:
    """Whitespace cleaned; each SHOUTED or all-lower-case word gets conventional casing.

    Mixed-case words are kept as typed: "McDonald" and "DeShawn" are the person's own
    spelling and no rule recovers them.
    """
    text = clean_text(value, max_length=max_length)
    words = []
    for i, word in enumerate(text.split(" ") if text else []):
        if not (word.isupper() or word.islower()):
            words.append(word)
        elif i > 0 and word.lower() in _PARTICLES:
            words.append(word.lower())
        else:
            # After apostrophes and hyphens too: o'brien → O'Brien, anne-marie → Anne-Marie.
            words.append(
                re.sub(r"(^|['\-])(\w)", lambda m: m.group(1) + m.group(2).upper(), word.lower())
            )
    return " ".join(words)


def normalize_email(value: str | None) -> str:
    """The address in canonical form (IDNA domain, lower case), or ValidationError."""
    text = clean_text(value)
    if not text:
        return ""
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError(f"{text!r} is not a valid e-mail address: {exc}") from exc
    return result.normalized.lower()


def normalize_phone(value: str | None, *, region: str | None = None) -> str:
    """E.164 (+14155550123), parsing national numbers in `region` (the default region
    setting, else the customer's country)."""
    text = clean_text(value)
    if not text:
        return ""
    region = (region or settings.PHONE_DEFAULT_REGION or "US").upper()
    key = _phone_key(text, region)
    outcome = _PHONE_MEMO.get(key) if key is not None else None
    if outcome is None:
        outcome = _parse_phone(text, region)
        if key is not None:
            if len(_PHONE_MEMO) >= _MEMO_LIMIT:
                _PHONE_MEMO.clear()
            _PHONE_MEMO[key] = outcome
    if outcome is _NOT_A_NUMBER:
        raise ValidationError(f"{text!r} is not a phone number.")
    if outcome is _INVALID:
        raise ValidationError(
            f"{text!r} is not a valid phone number"
            + ("." if text.startswith("+") else f" in region {region} (add the +country code).")
        )
    return outcome


def phone_national_number(e164: str) -> str:
    """The national significant number of a stored E.164 phone (what a person dials in
    the country without the trunk prefix), as phonenumbers gives it; ValueError when it
    does not parse."""
    national = _NATIONAL_MEMO.get(e164)
    if national is None:
        try:
            national = str(phonenumbers.parse(e164).national_number)
        except phonenumbers.NumberParseException as exc:
            raise ValueError(e164) from exc
        _remember_national(e164, national)
    return national


# phonenumbers costs ~60 µs a number; files repeat numbers (switchboards, shared lines,
# one number written several ways), so outcomes are remembered, bounded. The key is what
# phonenumbers' result depends on for text made only of ASCII digits, spaces, ( ) . - and
# one leading +: the region, the + and the digits (it drops that punctuation, and such text
# can hold no extension, letters or second number). tests/test_normalize.py holds the two
# paths equal. Other text is parsed every time.
_PHONE_KEY_TEXT = re.compile(r"\+?[0-9 ().\-]+")
_PHONE_PUNCTUATION = str.maketrans("", "", " ().-+")
_NOT_A_NUMBER = "not a number"
_INVALID = "invalid"
_MEMO_LIMIT = 200_000
_PHONE_MEMO: dict[tuple[str, str], str] = {}
_NATIONAL_MEMO: dict[str, str] = {}


def _phone_key(text: str, region: str) -> tuple[str, str] | None:
    if len(text) > 250 or not _PHONE_KEY_TEXT.fullmatch(text):
        return None
    digits = text.translate(_PHONE_PUNCTUATION)
    if len(digits) < 3:  # phonenumbers treats 2-digit text by its punctuation
        return None
    return region, ("+" + digits if text[0] == "+" else digits)


def _parse_phone(text: str, region: str) -> str:
    """E.164, or one of the two failure markers (the messages are made per text)."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return _NOT_A_NUMBER
    if not phonenumbers.is_valid_number(number):
        return _INVALID
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # Search text wants the national form of the stored number: keep it from this parse.
    _remember_national(e164, str(number.national_number))
    return e164


def _remember_national(e164: str, national: str) -> None:
    if len(_NATIONAL_MEMO) >= _MEMO_LIMIT:
        _NATIONAL_MEMO.clear()
    _NATIONAL_MEMO[e164] = national


@lru_cache(maxsize=4096)
def _country_lookup(text: str) -> str | None:
    country: Any
    try:
        country = pycountry.countries.lookup(text)
    except LookupError:
        try:
            matches = pycountry.countries.search_fuzzy(text)
        except LookupError:
            return None
        country = matches[0] if len(matches) == 1 else None
    return country.alpha_2 if country is not None else None


_COUNTRY_ALIASES = {"UK": "GB", "ENGLAND": "GB", "SCOTLAND": "GB", "WALES": "GB", "USA": "US"}


def normalize_country(value: str | None) -> str:
    """ISO 3166-1 alpha-2 from a code (FR, FRA), an English name or a common alias."""
    text = clean_text(value)
    if not text:
        return ""
    upper = text.upper()
    if upper in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[upper]
    code = _country_lookup(upper if len(upper) <= 3 else text)
    if code is None:
        raise ValidationError(f"{text!r} is not a country (use an ISO code such as FR or a name).")
    return code


_POSTCODE_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    # country: (pattern on the compacted upper-case value, format with groups)
    "US": (re.compile(r"^(\d{5})(\d{4})?$"), "us"),
    "GB": (re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?)(\d[A-Z]{2})$"), "{0} {1}"),
    "NL": (re.compile(r"^(\d{4})([A-Z]{2})$"), "{0} {1}"),
    "CA": (re.compile(r"^([A-Z]\d[A-Z])(\d[A-Z]\d)$"), "{0} {1}"),
    "DE": (re.compile(r"^(\d{5})$"), "{0}"),
    "FR": (re.compile(r"^(\d{5})$"), "{0}"),
    "ES": (re.compile(r"^(\d{5})$"), "{0}"),
    "IT": (re.compile(r"^(\d{5})$"), "{0}"),
    "BE": (re.compile(r"^(\d{4})$"), "{0}"),
    "CH": (re.compile(r"^(\d{4})$"), "{0}"),
    "AT": (re.compile(r"^(\d{4})$"), "{0}"),
    "AU": (re.compile(r"^(\d{4})$"), "{0}"),
    "PL": (re.compile(r"^(\d{2})-?(\d{3})$"), "{0}-{1}"),
    "PT": (re.compile(r"^(\d{4})-?(\d{3})$"), "{0}-{1}"),
    "SE": (re.compile(r"^(\d{3})(\d{2})$"), "{0} {1}"),
    "JP": (re.compile(r"^(\d{3})-?(\d{4})$"), "{0}-{1}"),
    "BR": (re.compile(r"^(\d{5})-?(\d{3})$"), "{0}-{1}"),
    "IN": (re.compile(r"^(\d{6})$"), "{0}"),
}


def normalize_postcode(value: str | None, country: str | None = None) -> str:
    """Canonical spelling for countries with a known format; upper-cased otherwise."""
    text = clean_text(value).upper()
    if not text:
        return ""
    rule = _POSTCODE_RULES.get((country or "").upper())
    if rule is None:
        return text
    pattern, fmt = rule
    compact = re.sub(r"[\s]", "", text)
    if country and country.upper() not in {"PL", "PT", "JP", "BR", "US"}:
        compact = compact.replace("-", "")
    if country and country.upper() == "US":
        compact = compact.replace("-", "")
    match = pattern.match(compact)
    if match is None:
        raise ValidationError(f"{text!r} is not a valid postcode for {country}.")
    if fmt == "us":
        return match.group(1) + (f"-{match.group(2)}" if match.group(2) else "")
    return fmt.format(*match.groups())


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%Y%m%d")


def parse_date(value: str | dt.date | None) -> dt.date | None:
    """A date from ISO 8601 (2024-03-31) or an unambiguous form (31.03.2024, 2024/03/31).

    Slash forms like 03/04/2024 are refused: they mean different days in different countries.
    """
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = clean_text(value)
    if not text:
        return None
    if _ISO_DATE.fullmatch(text):
        # What the first format gives, without strptime's cost (imports parse millions).
        with contextlib.suppress(ValueError):
            return dt.date.fromisoformat(text)
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValidationError(f"{text!r} is not a date; use YYYY-MM-DD, e.g. 2024-03-31.")


def parse_birth_date(value: str | dt.date | None) -> dt.date | None:
    date = parse_date(value)
    if date is not None and not dt.date(1900, 1, 1) <= date <= dt.date.today():
        raise ValidationError(f"{date.isoformat()} is not a plausible birth date.")
    return date


def normalize_language(value: str | None) -> str:
    """A BCP 47 language tag (en, fr-CA) with the language part checked against ISO 639."""
    text = clean_text(value).replace("_", "-")
    if not text:
        return ""
    parts = text.split("-")
    language = parts[0].lower()
    found = pycountry.languages.get(alpha_2=language) if len(language) == 2 else None
    if found is None and len(language) == 3:
        found = pycountry.languages.get(alpha_3=language)
    if found is None:
        found_by_name = None
        with contextlib.suppress(LookupError):
            found_by_name = pycountry.languages.lookup(text)
        if found_by_name is None:
            raise ValidationError(f"{text!r} is not a language (use a code such as en or fr-CA).")
        return getattr(found_by_name, "alpha_2", found_by_name.alpha_3)
    return "-".join([language, *[p.upper() if len(p) == 2 else p for p in parts[1:]]])


def phone_digits(value: str) -> str:
    return re.sub(r"\D", "", value)
