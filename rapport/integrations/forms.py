"""Forms of the webhook pages (the services validate again; these shape the input)."""

from __future__ import annotations

from typing import Any

from django import forms

from rapport.core import events
from rapport.integrations.models import ALL_EVENTS


def event_choices() -> list[tuple[str, str]]:
    return [(ALL_EVENTS, "All events, including types added later")] + [
        (e.name, f"{e.name} — {e.description}") for e in events.catalogue()
    ]


class EndpointForm(forms.Form):
    url = forms.URLField(
        label="Payload URL",
        max_length=500,
        assume_scheme="https",
        help_text="Rapport POSTs signed JSON here. It must be a public address.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/rapport"}),
    )
    description = forms.CharField(
        max_length=200, required=False, help_text="What this endpoint is for (optional)."
    )
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Which events are sent to this URL.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["event_types"].choices = event_choices()  # type: ignore[attr-defined]
