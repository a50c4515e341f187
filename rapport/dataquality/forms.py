"""Forms of the import wizard and the export page."""

from __future__ import annotations

from typing import Any

from django import forms

from rapport.core import registry
from rapport.dataquality.mapping import field_choices
from rapport.dataquality.models import ImportMapping, ImportObjectType, UpsertBy


class UploadForm(forms.Form):
    object_type = forms.ChoiceField(
        label="What the file holds", choices=ImportObjectType.choices, initial="contacts"
    )
    file = forms.FileField(
        label="CSV or XLSX file",
        help_text="The first row holds the column names. CSV may use , ; tab or | and be "
        "UTF-8, UTF-16 or Latin-1; a spreadsheet (XLSX, XLS, ODS) is read from its first "
        "sheet.",
        widget=forms.ClearableFileInput(
            attrs={"accept": ".csv,.tsv,.txt,.xlsx,.xlsm,.xlsb,.xls,.ods"}
        ),
    )


class MappingForm(forms.Form):
    """One select per file column, plus how to match existing records and a name to save."""

    upsert_by = forms.ChoiceField(
        label="Match existing contacts by",
        choices=UpsertBy.choices,
        help_text="Rows matching an existing contact update it; others create a new one.",
    )
    saved = forms.ModelChoiceField(
        label="Apply a saved mapping", queryset=ImportMapping.objects.none(), required=False
    )
    save_as = forms.CharField(
        label="Save this mapping as",
        max_length=100,
        required=False,
        help_text="Optional: reuse it for the next file with the same columns.",
    )

    def __init__(
        self,
        *args: Any,
        headers: list[str],
        object_type: str,
        owner: Any,
        initial_mapping: dict[str, str],
        samples: dict[str, str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.headers = headers
        choices = [("", "— Do not import —"), *field_choices(object_type).items()]
        self.fields["saved"].queryset = ImportMapping.objects.filter(  # type: ignore[attr-defined]
            owner=owner, object_type=object_type
        )
        if not registry.import_target(object_type).upsert_by:
            del self.fields["upsert_by"]
        self.column_fields = []
        for i, header in enumerate(headers):
            name = f"col_{i}"
            self.fields[name] = forms.ChoiceField(
                label=header or f"(column {i + 1})",
                choices=choices,
                required=False,
                initial=initial_mapping.get(header, ""),
                help_text=samples.get(header, ""),
            )
            self.column_fields.append(name)

    def mapping(self) -> dict[str, str]:
        return {h: self.cleaned_data.get(f"col_{i}", "") for i, h in enumerate(self.headers) if h}

    def columns(self) -> list[Any]:
        return [self[name] for name in self.column_fields]


class ExportForm(forms.Form):
    format = forms.ChoiceField(
        label="Format", choices=[("csv", "CSV"), ("xlsx", "Excel (XLSX)")], initial="csv"
    )
