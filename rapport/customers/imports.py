"""Contacts (persons and organizations) as an import target: the columns a contacts file
may have. The rows are written by dataquality's bulk contact path (`write_batch` None)."""

from __future__ import annotations

from rapport.core import registry

CONTACT_FIELDS: dict[str, str] = {
    "external_id": "External ID",
    # The `id` column of a Rapport export: matches the record it came from (never creates).
    "rapport_id": "Rapport ID (of an export)",
    "first_name": "First name",
    "last_name": "Last name",
    "email": "E-mail",
    "phone": "Phone",
    "organization": "Organization",
    # A Rapport export's `kind`: on an organization's row `organization` is its own name.
    "kind": "Kind (person or organization)",
    "birth_date": "Birth date",
    "address_line1": "Address line 1",
    "address_line2": "Address line 2",
    "city": "City",
    "postcode": "Postcode",
    "region": "Region",
    "country": "Country",
    "tags": "Tags",
}


def register() -> None:
    registry.add_import_target(
        registry.ImportTarget(
            object_type="contacts",
            label="Contacts",
            noun="contact",
            fields=CONTACT_FIELDS,
            custom_fields=True,
            upsert_by=True,
            order=10,
        )
    )
