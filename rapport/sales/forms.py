"""Sales forms: they parse input; the services validate and write."""

from __future__ import annotations

from typing import Any

from django import forms

from rapport.core.params import RecordIdField
from rapport.core.widgets import DateInput
from rapport.sales.models import DealStatus, LeadStatus
from rapport.sales.services.stage_rules import RULE_FIELDS


class LeadFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Name, organization or e-mail"}
        ),
    )
    status = forms.ChoiceField(choices=[("", "Any status"), *LeadStatus.choices], required=False)
    source = forms.CharField(required=False)


class LeadForm(forms.Form):
    first_name = forms.CharField(required=False, max_length=100)
    last_name = forms.CharField(required=False, max_length=100)
    email = forms.CharField(label="E-mail", required=False, max_length=254)
    phone = forms.CharField(required=False, max_length=40)
    organization_name = forms.CharField(label="Organization", required=False, max_length=200)
    title = forms.CharField(label="Job title", required=False, max_length=200)
    country = forms.CharField(required=False, max_length=2, help_text="Two-letter code, e.g. DE")
    source = forms.CharField(required=False, max_length=100, help_text="Web form, trade show, …")
    status = forms.ChoiceField(
        choices=[c for c in LeadStatus.choices if c[0] in ("new", "working", "qualified")],
        initial="new",
    )
    score = forms.IntegerField(required=False, min_value=0, max_value=100)
    message = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


class DisqualifyForm(forms.Form):
    reason = forms.CharField(max_length=200, label="Reason")


class ConvertForm(forms.Form):
    customer = RecordIdField(required=False, label="Merge into")
    create_deal = forms.BooleanField(required=False, initial=True, label="Create a deal")
    deal_name = forms.CharField(required=False, max_length=200, label="Deal name")
    amount = forms.DecimalField(required=False, max_digits=12, decimal_places=2, min_value=0)


class DealFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Deal name"}),
    )
    status = forms.ChoiceField(choices=[("", "Any status"), *DealStatus.choices], required=False)
    pipeline = RecordIdField(required=False, widget=forms.HiddenInput)
    stage = RecordIdField(required=False, widget=forms.HiddenInput)
    customer = RecordIdField(required=False, widget=forms.HiddenInput)
    owner = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    team = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    close_month = forms.CharField(
        label="Closing in", required=False, widget=forms.TextInput(attrs={"type": "month"})
    )

    def __init__(self, *args: Any, owners: list[Any], teams: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "Any owner"), *owners]  # type: ignore[attr-defined]
        self.fields["team"].choices = [("", "Any team"), *teams]  # type: ignore[attr-defined]


class BoardFilterForm(DealFilterForm):
    """The board's filters: owner, team and close month (the pipeline is the board's)."""


class DealForm(forms.Form):
    name = forms.CharField(max_length=200)
    customer = RecordIdField(required=False, widget=forms.HiddenInput)
    amount = forms.DecimalField(required=False, max_digits=12, decimal_places=2, min_value=0)
    currency = forms.CharField(required=False, max_length=3)
    expected_close_date = forms.DateField(required=False, widget=DateInput())
    probability = forms.IntegerField(
        required=False, min_value=0, max_value=100, help_text="Leave empty for the stage's default"
    )
    next_step = forms.CharField(required=False, max_length=200)
    competitors = forms.CharField(required=False, max_length=300)


class MoveForm(forms.Form):
    stage = RecordIdField()


class LoseForm(forms.Form):
    reason = forms.CharField(max_length=200, label="Why was it lost?")


class PipelineForm(forms.Form):
    name = forms.CharField(max_length=100)
    currency = forms.CharField(max_length=3, initial="EUR")


class StageForm(forms.Form):
    name = forms.CharField(max_length=100)
    probability = forms.IntegerField(min_value=0, max_value=100)
    required_fields = forms.MultipleChoiceField(
        choices=list(RULE_FIELDS.items()),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Required to enter",
    )
    notify_owner = forms.BooleanField(required=False, label="Notify the owner")
