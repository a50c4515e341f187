"""Form widgets every app shares."""

from __future__ import annotations

from django import forms


class DateInput(forms.DateInput):
    """The browser's date picker (`<input type="date">`). Its value is always ISO 8601
    (YYYY-MM-DD), whatever the reader's locale: Django would otherwise render a date in the
    active locale's first input format ("03/12/2026" for en-GB), which the browser drops,
    so saving the form would clear the date (decision 0795)."""

    input_type = "date"

    def __init__(self, attrs: dict[str, object] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")
