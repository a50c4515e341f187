"""Commerce forms: they parse input; the services validate and write."""

from __future__ import annotations

from typing import Any

from django import forms

from rapport.commerce.models import OrderChannel, OrderStatus, ShipmentStatus
from rapport.core.params import RecordIdField
from rapport.core.widgets import DateInput


def set_choices(form: forms.Form, name: str, choices: list[tuple[str, str]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


def _choices(enum: Any, blank: str) -> list[tuple[str, str]]:
    return [("", blank), *enum.choices]


class OrderFilterForm(forms.Form):
    q = forms.CharField(
        label="Order number", required=False, widget=forms.TextInput(attrs={"type": "search"})
    )
    status = forms.ChoiceField(choices=_choices(OrderStatus, "Any status"), required=False)
    channel = forms.ChoiceField(choices=_choices(OrderChannel, "Any channel"), required=False)
    ordered_from = forms.DateField(label="From", required=False, widget=DateInput())
    ordered_to = forms.DateField(label="To", required=False, widget=DateInput())
    sort = forms.ChoiceField(
        label="Order by",
        required=False,
        choices=[
            ("", "Newest first"),
            ("ordered_at", "Oldest first"),
            ("-total", "Highest total"),
            ("total", "Lowest total"),
        ],
    )
    customer = RecordIdField(required=False, widget=forms.HiddenInput)


class ShipmentFilterForm(forms.Form):
    carrier = forms.CharField(required=False)
    status = forms.ChoiceField(
        choices=[("", "Any open status")]
        + [
            c
            for c in ShipmentStatus.choices
            if c[0] not in (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED)
        ],
        required=False,
    )


class ProductFilterForm(forms.Form):
    q = forms.CharField(
        label="Search", required=False, widget=forms.TextInput(attrs={"type": "search"})
    )
    category = forms.ChoiceField(required=False)
    active = forms.ChoiceField(
        choices=[("", "Active and retired"), ("1", "Active"), ("0", "Retired")], required=False
    )

    def __init__(self, *args: Any, categories: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "category", [("", "Every category")] + [(c, c) for c in categories or []])


class ProductForm(forms.Form):
    sku = forms.CharField(label="SKU", max_length=64)
    name = forms.CharField(max_length=200)
    category = forms.CharField(max_length=100, required=False)
    price = forms.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    currency = forms.CharField(
        max_length=3, help_text="ISO 4217 code, e.g. EUR, USD, GBP.", initial="EUR"
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    active = forms.BooleanField(
        required=False, initial=True, help_text="Retired products stay on past orders."
    )


class OrderStatusForm(forms.Form):
    status = forms.ChoiceField(choices=OrderStatus.choices)
    reason = forms.CharField(max_length=200, required=False)
    confirm_cancel = forms.BooleanField(label="Yes, cancel this order", required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # A cancellation cannot be undone: it takes a second, deliberate step.
        if data.get("status") == OrderStatus.CANCELLED and not data.get("confirm_cancel"):
            self.add_error(
                "confirm_cancel",
                "Cancelling cannot be undone: tick “Yes, cancel this order” to confirm.",
            )
        return data


class ShipmentForm(forms.Form):
    carrier = forms.CharField(max_length=100)
    tracking_number = forms.CharField(max_length=100, required=False)
    tracking_url = forms.URLField(
        max_length=500, required=False, assume_scheme="https", label="Tracking link"
    )
    status = forms.ChoiceField(choices=ShipmentStatus.choices, initial=ShipmentStatus.IN_TRANSIT)
    expected_delivery = forms.DateField(required=False, widget=DateInput())


class ShipmentStatusForm(forms.Form):
    status = forms.ChoiceField(choices=ShipmentStatus.choices)
    location = forms.CharField(max_length=200, required=False)
    description = forms.CharField(max_length=500, required=False, label="Note")
