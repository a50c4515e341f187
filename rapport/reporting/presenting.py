"""A report result as the page shows it: table rows whose every figure links to its
records, and the chart's data (labels, series and each bar's drill-down link) that
`static/reporting/charts.js` draws with Chart.js."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from rapport.reporting.engine import ReportResult

# A second grouping with more values than this draws the biggest ones as series; the
# table still holds every group.
MAX_SERIES = 12


@dataclass(frozen=True)
class Cell:
    value: float | int
    decimals: int
    url: str


@dataclass(frozen=True)
class TableRow:
    labels: tuple[str, ...]
    cells: tuple[Cell, ...]


def drill_url(base_query: str, keys: tuple[str, ...]) -> str:
    extra = urlencode([("k", k) for k in keys])
    query = "&".join(q for q in (base_query, extra) if q)
    return f"{reverse('reporting:records')}?{query}"


def table_rows(result: ReportResult, base_query: str) -> list[TableRow]:
    decimals = [0 if m.fn == "count" else 2 for m in result.definition.measures]
    rows = []
    for row in result.rows:
        url = drill_url(base_query, row.keys)
        rows.append(
            TableRow(
                labels=row.labels,
                cells=tuple(Cell(v, d, url) for v, d in zip(row.values, decimals, strict=True)),
            )
        )
    return rows


def chart_data(result: ReportResult, base_query: str) -> dict[str, Any] | None:
    """What Chart.js draws (the first measure), or None: a table-only report, or totals
    without a grouping, which are a number rather than a chart."""
    definition = result.definition
    if definition.chart == "table" or not definition.groups or not result.rows:
        return None
    measure = result.measure_columns[0].label
    decimals = 0 if definition.measures[0].fn == "count" else 2
    if len(definition.groups) == 1:
        return {
            "type": definition.chart,
            "measure": measure,
            "decimals": decimals,
            "labels": [r.labels[0] for r in result.rows],
            "datasets": [
                {
                    "label": measure,
                    "data": [r.values[0] for r in result.rows],
                    "urls": [drill_url(base_query, r.keys) for r in result.rows],
                }
            ],
        }
    # Two groupings: the first along the axis, one series per value of the second.
    axis: dict[str, str] = {}
    totals: dict[str, float] = {}
    series_labels: dict[str, str] = {}
    for r in result.rows:
        axis.setdefault(r.keys[0], r.labels[0])
        series_labels.setdefault(r.keys[1], r.labels[1])
        totals[r.keys[1]] = totals.get(r.keys[1], 0) + r.values[0]
    top = sorted(totals, key=lambda k: -totals[k])[:MAX_SERIES]
    cells = {(r.keys[0], r.keys[1]): r for r in result.rows}
    datasets = []
    for series in top:
        data, urls = [], []
        for key in axis:
            row = cells.get((key, series))
            data.append(row.values[0] if row else 0)
            urls.append(drill_url(base_query, (key, series)))
        datasets.append({"label": series_labels[series], "data": data, "urls": urls})
    return {
        "type": "bar" if definition.chart == "pie" else definition.chart,
        "stacked": definition.chart == "bar",
        "measure": measure,
        "decimals": decimals,
        "labels": list(axis.values()),
        "datasets": datasets,
        "more_series": len(totals) - len(top),
    }
