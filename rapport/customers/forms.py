"""Forms of the customer pages. They only collect input: normalisation and validation live
in the services, whose per-field errors these forms show next to the right field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms import formset_factory
from django.utils.html import escape

from rapport.core.widgets import DateInput
from rapport.customers.models import (
    AddressKind,
    ConsentChannel,
    ConsentPurpose,
    ConsentStatus,
    ContactKind,
    Customer,
    CustomerKind,
    CustomFieldDefinition,
    CustomFieldType,
    LifecycleStage,
    RelationshipKind,
)
from rapport.customers.services import (
    SCALAR_FIELDS,
    AddressInput,
    CustomerInput,
    EmailInput,
    PhoneInput,
)

TEXT_FIELDS = [n for n in SCALAR_FIELDS if n not in {"kind", "lifecycle_stage", "birth_date"}]


def custom_form_field(definition: CustomFieldDefinition) -> forms.Field:
    """The form field for one custom field definition (values are validated by services)."""
    common: dict[str, Any] = {
        "label": definition.label,
        "required": False,
        # The shared field template marks help text safe: escape what an admin typed.
        "help_text": escape(definition.help_text),
    }
    kind = definition.field_type
    if kind == CustomFieldType.BOOLEAN:
        return forms.ChoiceField(choices=[("", "—"), ("yes", "Yes"), ("no", "No")], **common)
    if kind == CustomFieldType.CHOICE:
        return forms.ChoiceField(
            choices=[("", "—")] + [(c, c) for c in definition.choices], **common
        )
    if kind == CustomFieldType.MULTI_CHOICE:
        return forms.MultipleChoiceField(
            choices=[(c, c) for c in definition.choices],
            widget=forms.CheckboxSelectMultiple,
            **common,
        )
    if kind == CustomFieldType.DATE:
        return forms.CharField(widget=DateInput(), **common)
    if kind == CustomFieldType.NUMBER:
        return forms.CharField(widget=forms.TextInput(attrs={"inputmode": "decimal"}), **common)
    if kind == CustomFieldType.URL:
        return forms.CharField(widget=forms.URLInput(), **common)
    return forms.CharField(max_length=1000, **common)


def custom_initial(definition: CustomFieldDefinition, value: Any) -> Any:
    if definition.field_type == CustomFieldType.BOOLEAN and value is not None:
        return "yes" if value else "no"
    return value


def custom_value(definition: CustomFieldDefinition, raw: Any) -> Any:
    if definition.field_type == CustomFieldType.BOOLEAN:
        return {"yes": True, "no": False}.get(raw or "")
    return raw


class CustomerForm(forms.Form):
    first_name = forms.CharField(required=False, max_length=100)
    last_name = forms.CharField(required=False, max_length=100)
    organization_name = forms.CharField(required=False, max_length=200, label="Organization name")
    job_title = forms.CharField(required=False, max_length=150)
    birth_date = forms.CharField(required=False, widget=DateInput(), label="Birth date")
    language = forms.CharField(required=False, max_length=16, help_text="e.g. en, fr-CA")
    source = forms.CharField(required=False, max_length=100)
    lifecycle_stage = forms.ChoiceField(choices=LifecycleStage.choices, initial="lead")
    website = forms.CharField(required=False, max_length=300, widget=forms.URLInput())
    industry = forms.CharField(required=False, max_length=100)
    external_id = forms.CharField(
        required=False,
        max_length=100,
        label="External id",
        help_text="The id in your other systems.",
    )
    tags = forms.CharField(required=False, help_text="Separate tags with commas.")
    owner = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    team = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)

    def __init__(
        self,
        *args: Any,
        kind: str,
        definitions: list[CustomFieldDefinition],
        owners: list[tuple[int, str]],
        teams: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.definitions = definitions
        if kind == CustomerKind.ORGANIZATION:
            for name in ("first_name", "last_name", "job_title", "birth_date"):
                del self.fields[name]
            self.fields["organization_name"].required = True
        else:
            del self.fields["organization_name"]
            del self.fields["industry"]
        self.fields["owner"].choices = [("", "Me"), *owners]  # type: ignore[attr-defined]
        self.fields["team"].choices = [("", "My team"), *teams]  # type: ignore[attr-defined]
        for d in definitions:
            self.fields[f"cf_{d.key}"] = custom_form_field(d)

    def custom_bound_fields(self) -> list[Any]:
        return [self[f"cf_{d.key}"] for d in self.definitions]

    def main_bound_fields(self) -> list[Any]:
        return [
            f
            for f in self
            if not f.name.startswith("cf_") and f.name not in {"owner", "team", "tags"}
        ]

    def to_input(self, *, creating: bool) -> CustomerInput:
        data = self.cleaned_data
        result = CustomerInput(kind=self.kind)
        for name in [*TEXT_FIELDS, "birth_date", "lifecycle_stage"]:
            if name not in self.fields:
                continue
            value = data.get(name)
            if value in (None, ""):
                if not creating:
                    result.cleared.add(name)
                continue
            setattr(result, name, value)
        result.tags = [t for t in (data.get("tags") or "").split(",") if t.strip()]
        result.owner_id = data.get("owner")
        result.team_id = data.get("team")
        result.custom_fields = {
            d.key: custom_value(d, data.get(f"cf_{d.key}")) for d in self.definitions
        }
        return result


class EmailForm(forms.Form):
    email = forms.CharField(
        required=False, max_length=254, widget=forms.EmailInput(), label="E-mail"
    )
    kind = forms.ChoiceField(choices=ContactKind.choices, initial=ContactKind.WORK)
    is_primary = forms.BooleanField(required=False, label="Primary")


class PhoneForm(forms.Form):
    number = forms.CharField(
        required=False, max_length=50, widget=forms.TextInput(attrs={"type": "tel"}), label="Phone"
    )
    kind = forms.ChoiceField(choices=ContactKind.choices, initial=ContactKind.MOBILE)
    is_primary = forms.BooleanField(required=False, label="Primary")


class AddressForm(forms.Form):
    line1 = forms.CharField(required=False, max_length=200, label="Street")
    line2 = forms.CharField(required=False, max_length=200, label="Street (line 2)")
    postcode = forms.CharField(required=False, max_length=20)
    city = forms.CharField(required=False, max_length=100)
    region = forms.CharField(required=False, max_length=100)
    country = forms.CharField(required=False, max_length=60, help_text="Name or ISO code")
    kind = forms.ChoiceField(choices=AddressKind.choices, initial=AddressKind.HOME)
    is_primary = forms.BooleanField(required=False, label="Primary")


EmailFormSet = formset_factory(EmailForm, extra=1)
PhoneFormSet = formset_factory(PhoneForm, extra=1)
AddressFormSet = formset_factory(AddressForm, extra=1)


def contact_inputs(
    emails: Any, phones: Any, addresses: Any
) -> tuple[list[EmailInput], list[PhoneInput], list[AddressInput]]:
    email_items = [
        EmailInput(
            email=f.cleaned_data.get("email", ""),
            kind=f.cleaned_data.get("kind") or "work",
            is_primary=bool(f.cleaned_data.get("is_primary")),
        )
        for f in emails.forms
    ]
    phone_items = [
        PhoneInput(
            number=f.cleaned_data.get("number", ""),
            kind=f.cleaned_data.get("kind") or "mobile",
            is_primary=bool(f.cleaned_data.get("is_primary")),
        )
        for f in phones.forms
    ]
    address_items = [
        AddressInput(
            **{
                k: f.cleaned_data.get(k) or ""
                for k in ("line1", "line2", "postcode", "city", "region", "country")
            },
            kind=f.cleaned_data.get("kind") or "home",
            is_primary=bool(f.cleaned_data.get("is_primary")),
        )
        for f in addresses.forms
    ]
    return email_items, phone_items, address_items


def attach_errors(exc: ValidationError, form: CustomerForm, formsets: dict[str, Any]) -> None:
    """Put a service's {field: messages} errors next to the fields they are about.

    The services number contact points as they received them ("emails.1.email"); every
    submitted row is passed on (blank ones included), so the numbers match the rows.
    """
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for key, messages in exc.message_dict.items():
        parts = key.split(".")
        if parts[0] in formsets and len(parts) == 3 and parts[1].isdigit():
            formset = formsets[parts[0]]
            index = int(parts[1])
            if index < len(formset.forms) and parts[2] in formset.forms[index].fields:
                formset.forms[index].add_error(parts[2], messages)
                continue
        if parts[0] == "custom_fields" and len(parts) == 2 and f"cf_{parts[1]}" in form.fields:
            form.add_error(f"cf_{parts[1]}", messages)
        elif key in form.fields:
            form.add_error(key, messages)
        else:
            form.add_error(None, messages)


def initial_for(customer: Customer) -> dict[str, Any]:
    initial = {name: getattr(customer, name) or "" for name in [*TEXT_FIELDS, "lifecycle_stage"]}
    initial["birth_date"] = customer.birth_date.isoformat() if customer.birth_date else ""
    initial["tags"] = ", ".join(t.name for t in customer.tags.all())
    initial["owner"] = customer.owner_id
    initial["team"] = customer.team_id
    return initial


class NoteForm(forms.Form):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Write a note…"}),
        label="Note",
        max_length=20_000,
    )


class ConsentForm(forms.Form):
    channel = forms.ChoiceField(choices=ConsentChannel.choices)
    purpose = forms.ChoiceField(choices=ConsentPurpose.choices)
    status = forms.ChoiceField(choices=ConsentStatus.choices)
    method = forms.CharField(max_length=50, help_text="Phone call, paper form, e-mail reply…")
    text_shown = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Wording they agreed to"
    )


class RelationshipForm(forms.Form):
    kind = forms.ChoiceField(choices=RelationshipKind.choices, label="Relationship")
    other = forms.CharField(
        label="Other customer",
        help_text="Their customer number (#id) or external id.",
        max_length=100,
    )
    note = forms.CharField(required=False, max_length=255)


class AffiliationForm(forms.Form):
    organization = forms.CharField(
        label="Organization", help_text="Its customer number (#id) or external id.", max_length=100
    )
    title = forms.CharField(required=False, max_length=150, label="Title / role")


class CustomFieldForm(forms.Form):
    key = forms.CharField(
        max_length=50, help_text="Lower-case, e.g. shoe_size. Cannot change later."
    )
    label = forms.CharField(max_length=100)
    field_type = forms.ChoiceField(choices=CustomFieldType.choices, label="Type")
    choices = forms.CharField(
        required=False,
        help_text="For choice fields: one per line.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    required = forms.BooleanField(required=False)
    help_text = forms.CharField(required=False, max_length=255)
