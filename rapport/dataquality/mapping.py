"""Column mapping: which file column feeds which field, suggested from the headers.

A mapping is {file column: field}. Fields are the names the import target declares
(`core.registry.ImportTarget.fields`, registered by the app that owns the records) or
`cf:<key>` for a custom field; an empty field means "ignore this column".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from rapport.core import registry
from rapport.customers.models import CustomFieldDefinition

CUSTOMER_TYPE = "customers.customer"

# Other spellings seen in exports from other tools.
_ALIASES: dict[str, str] = {
    "id": "external_id",
    "externalid": "external_id",
    "firstname": "first_name",
    "given_name": "first_name",
    "forename": "first_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "e_mail": "email",
    "email_address": "email",
    "mail": "email",
    "telephone": "phone",
    "phone_number": "phone",
    "mobile": "phone",
    "company": "organization",
    "organisation": "organization",
    "company_name": "organization",
    "dob": "birth_date",
    "date_of_birth": "birth_date",
    "birthday": "birth_date",
    "address": "address_line1",
    "street": "address_line1",
    "address1": "address_line1",
    "address2": "address_line2",
    "town": "city",
    "zip": "postcode",
    "zipcode": "postcode",
    "zip_code": "postcode",
    "postal_code": "postcode",
    "state": "region",
    "province": "region",
    "county": "region",
    "labels": "tags",
    "order_id": "external_id",
    "customer_id": "customer_external_id",
    "date": "ordered_at",
    "order_date": "ordered_at",
    "amount": "total",
    "qty": "quantity",
    "price": "unit_price",
}


_COMPACT_ALIASES = {k.replace("_", ""): v for k, v in _ALIASES.items()}


class MappingError(ValueError):
    """A mapping that cannot work (the message says which column or field)."""


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")


def custom_field_keys(object_type: str) -> dict[str, str]:
    """{key: label} of the active custom fields the target's files can import into."""
    if not registry.import_target(object_type).custom_fields:
        return {}
    return dict(
        CustomFieldDefinition.objects.filter(object_type=CUSTOMER_TYPE, is_active=True)
        .order_by("position", "label")
        .values_list("key", "label")
    )


def field_choices(object_type: str) -> dict[str, str]:
    """Every field a column can map to: {field: label}."""
    choices = dict(registry.import_target(object_type).fields)
    for key, label in custom_field_keys(object_type).items():
        choices[f"cf:{key}"] = f"{label} (custom field)"
    return choices


def _exact(header: str, choices: dict[str, str]) -> str | None:
    name = slug(header)
    if name in choices:
        return name
    if name.startswith("cf_") and f"cf:{name[3:]}" in choices:
        return f"cf:{name[3:]}"
    if header.strip().lower().startswith("cf:") and header.strip().lower() in choices:
        return header.strip().lower()
    if f"cf:{name}" in choices:
        return f"cf:{name}"
    compact = name.replace("_", "")
    if compact in {f.replace("_", "") for f in choices}:
        return next(f for f in choices if f.replace("_", "") == compact)
    alias = _ALIASES.get(name) or _COMPACT_ALIASES.get(compact)
    if alias in choices:
        return alias
    for field, label in choices.items():
        if slug(label.replace("(custom field)", "")) == name:
            return field
    return None


def suggest(headers: list[str], object_type: str, *, fuzzy: bool = True) -> dict[str, str]:
    """The best field for each header: exact names and aliases first, then a fuzzy match
    (rapidfuzz) on names and labels above a safe threshold. Each field is used once."""
    choices = field_choices(object_type)
    result: dict[str, str] = {}
    used: set[str] = set()
    # A header that *is* a field's name claims it before any alias can: Rapport's own
    # export has both `id` (an alias of external_id in other tools' files) and
    # `external_id`, and only the latter is the external id.
    for header in headers:
        name = slug(header)
        if name in choices and name not in used:
            result[header] = name
            used.add(name)
    # `id` beside `external_id` is the signature of our own export: it is Rapport's id.
    if "external_id" in used and "rapport_id" in choices and "rapport_id" not in used:
        for header in headers:
            if slug(header) == "id" and header not in result:
                result[header] = "rapport_id"
                used.add("rapport_id")
                break
    for header in headers:
        if header in result:
            continue
        field = _exact(header, choices)
        if field and field not in used:
            result[header] = field
            used.add(field)
    if fuzzy:
        candidates: dict[str, str] = {}
        for f, label in choices.items():
            candidates[f.removeprefix("cf:")] = f
            candidates.setdefault(slug(label.replace("(custom field)", "")), f)
        for header in headers:
            if header in result or not header.strip():
                continue
            free = {k: v for k, v in candidates.items() if v not in used}
            if not free:
                break
            best = process.extractOne(slug(header), list(free), scorer=fuzz.WRatio)
            if best is not None and best[1] >= 85:
                result[header] = free[best[0]]
                used.add(free[best[0]])
    return {h: result.get(h, "") for h in headers}


def _map_hint(headers: list[str], choices: dict[str, str]) -> str:
    """The file's columns, the fields expected, and how to map one to the other: what a
    user needs to fix a file whose headers are not the expected ones."""
    found = ", ".join(repr(h) for h in headers if h) or "none"
    example = next((h for h in headers if h), "Column")
    return (
        f" The file's columns: {found}. The fields: {', '.join(choices)}. Map a column "
        f"to a field with --map COLUMN=FIELD (e.g. --map '{example}=email'), or in the "
        "import wizard's mapping step."
    )


@dataclass
class ResolvedMapping:
    """Column positions per field, checked against the file and the known fields."""

    positions: dict[str, int]  # field -> column index
    ignored: list[str]  # file columns not imported


def resolve(mapping: dict[str, str], headers: list[str], object_type: str) -> ResolvedMapping:
    choices = field_choices(object_type)
    index = {h.strip().lower(): i for i, h in enumerate(headers) if h.strip()}
    positions: dict[str, int] = {}
    for column, field in mapping.items():
        key = column.strip().lower()
        field = (field or "").strip()
        if not field and not key:
            continue  # an unnamed column, not imported (a sheet that starts in column B)
        if key not in index:
            raise MappingError(
                f"The mapping names the column {column!r}, which is not in the file."
                + _map_hint(headers, choices)
            )
        if not field:
            continue
        if field.startswith(("cf:", "CF:")):
            field = "cf:" + field[3:]
        if field not in choices:
            raise MappingError(
                f"Column {column!r} is mapped to {field!r}, which is not a field; "
                f"use one of: {', '.join(choices)}."
            )
        if field in positions:
            raise MappingError(f"Two columns are mapped to the field {field!r}.")
        positions[field] = index[key]
    target = registry.import_target(object_type)
    missing = [f for f in target.required if f not in positions]
    if missing:
        raise MappingError(
            f"An {target.object_type} file needs the columns: {', '.join(missing)}."
            + _map_hint(headers, choices)
        )
    if not positions:
        raise MappingError(
            f"No column of the file maps to a {target.noun} field." + _map_hint(headers, choices)
        )
    mapped = set(positions.values())
    ignored = [h for i, h in enumerate(headers) if h and i not in mapped]
    return ResolvedMapping(positions=positions, ignored=ignored)
