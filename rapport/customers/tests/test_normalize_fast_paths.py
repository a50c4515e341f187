"""The normalisers' fast paths (memos, shortcuts) give exactly what the slow paths give."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from django.core.exceptions import ValidationError

from rapport.customers import normalize


def _outcome(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    try:
        return fn(*args, **kwargs)
    except ValidationError as exc:
        return ("error", exc.messages)


def _slow_phone(text: str, region: str) -> object:
    """normalize_phone as it was before the memo (phonenumbers on every call)."""
    text = normalize.clean_text(text)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return ("error", [f"{text!r} is not a phone number."])
    if not phonenumbers.is_valid_number(number):
        return (
            "error",
            [
                f"{text!r} is not a valid phone number"
                + ("." if text.startswith("+") else f" in region {region} (add the +country code).")
            ],
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _spellings(rng: random.Random) -> list[str]:
    """National and international numbers of many regions, formatted many ways, plus
    short, long and odd inputs."""
    out = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS)[::3]:
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            for fmt in (
                phonenumbers.PhoneNumberFormat.E164,
                phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                phonenumbers.PhoneNumberFormat.NATIONAL,
            ):
                text = phonenumbers.format_number(example, fmt)
                out.append(text)
                # A digit changed or dropped: often invalid, sometimes another valid number.
                digits = [i for i, ch in enumerate(text) if ch.isdigit()]
                i = rng.choice(digits)
                out.append(text[:i] + str(rng.randint(0, 9)) + text[i + 1 :])
                out.append(text[:i] + text[i + 1 :])
                out.append(text.replace(" ", "-").replace("(", "").replace(")", ""))
                out.append(text.replace(" ", "."))
    out += ["12", "1-2", "123", "+1", "+12", "+123", "00 33 6 12 34 56 78", "0033612345678"]
    out += ["(0) 6 12 34 56 78", "+33 (0)6 12 34 56 78", "06 12 34 56 78 ext. 12", "1-800-FLOWERS"]
    out += ["+44 20 7946 0958 / 0207 946 0959", "+" + "9" * 30, "6" * 260, "+ 33 6 12 34 56 78"]
    return out


@pytest.mark.parametrize("region", ["US", "FR", "DE", "GB", "IT", "AR", "BR", "IN", "RU", "ZZ"])
def test_phone_memo_gives_what_phonenumbers_gives(region: str) -> None:
    rng = random.Random(region)
    for text in _spellings(rng):
        expected = _slow_phone(text, region)
        normalize._PHONE_MEMO.clear()
        assert _outcome(normalize.normalize_phone, text, region=region) == expected, text
        # The second time comes from the memo (when the text has a key).
        assert _outcome(normalize.normalize_phone, text, region=region) == expected, text


def test_numbers_written_differently_share_one_memo_entry() -> None:
    normalize._PHONE_MEMO.clear()
    first = normalize.normalize_phone("+33 6 12 34 56 78", region="FR")
    assert normalize.normalize_phone("+33.6.12.34.56.78", region="FR") == first
    assert len(normalize._PHONE_MEMO) == 1
    assert normalize.normalize_phone("06 12 34 56 78", region="FR") == first  # no +: its own key
    assert len(normalize._PHONE_MEMO) == 2


def test_national_number_kept_from_validation_equals_reparsing_the_e164() -> None:
    """search_text_for takes the national form from the memo that normalize_phone fills:
    it must be what parsing the stored E.164 gives, in every region."""
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in phonenumbers.PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
            normalize._NATIONAL_MEMO.clear()
            normalize._PHONE_MEMO.clear()
            try:
                e164 = normalize.normalize_phone(national, region=region)
            except ValidationError:
                continue
            remembered = normalize._NATIONAL_MEMO[e164]
            assert remembered == str(phonenumbers.parse(e164).national_number), (region, national)
            checked += 1
    assert checked > 500


def test_parse_date_shortcut_matches_strptime() -> None:
    for text in ["2024-03-31", "2024-02-30", "2024-3-5", "1999-12-01", "0001-01-01", "2024-13-01"]:
        slow = None
        for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%Y%m%d"):
            try:
                slow = __import__("datetime").datetime.strptime(text, fmt).date()
                break
            except ValueError:
                continue
        result = _outcome(normalize.parse_date, text)
        if slow is None:
            assert result[0] == "error", text
        else:
            assert result == slow, text
