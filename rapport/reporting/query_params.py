"""A report definition as query parameters, so the builder's form, its live preview, the
drill-down lists and the exports of an unsaved report are plain links: `source`,
`f0_field`/`f0_op`/`f0_value` …, `g0_field`/`g0_bucket`, `m0_fn`/`m0_field`, `chart`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError

from rapport.reporting import engine
from rapport.reporting.engine import ReportDefinition

# The builder's rows: every filter row up to the engine's limit is read.
FILTER_ROWS = engine.MAX_FILTERS
GROUP_ROWS = engine.MAX_GROUPS
MEASURE_ROWS = 2


def definition_params(definition: ReportDefinition) -> list[tuple[str, str]]:
    params = [("source", definition.source)]
    for i, f in enumerate(definition.filters):
        value = ",".join(f.value) if isinstance(f.value, list) else str(f.value)
        params += [(f"f{i}_field", f.field), (f"f{i}_op", f.op), (f"f{i}_value", value)]
    for i, g in enumerate(definition.groups):
        params += [(f"g{i}_field", g.field), (f"g{i}_bucket", g.bucket)]
    for i, m in enumerate(definition.measures):
        params += [(f"m{i}_fn", m.fn), (f"m{i}_field", m.field)]
    params.append(("chart", definition.chart))
    return params


def definition_query(definition: ReportDefinition) -> str:
    return urlencode(definition_params(definition))


@dataclass
class Parsed:
    raw: dict[str, Any]
    # The engine's error keys ("filters.0") -> the row's parameter prefix ("f2").
    rows: dict[str, str] = field(default_factory=dict)

    def definition(self) -> ReportDefinition:
        return ReportDefinition.from_dict(self.raw)

    def field_errors(self, exc: ValidationError) -> dict[str, str]:
        """The engine's errors keyed by the builder's parameter names ("f2_value")."""
        errors: dict[str, str] = {}
        for key, messages in exc.message_dict.items():
            parts = key.split(".")
            if len(parts) == 3:
                name = f"{self.rows.get('.'.join(parts[:2]), parts[0])}_{parts[2]}"
            else:
                name = {"measures": "m0_fn", "filters": "f0_field", "groups": "g0_field"}.get(
                    key, key
                )
            errors[name] = " ".join(messages)
        return errors


def parse(params: Mapping[str, Any]) -> Parsed:
    """The definition the parameters describe; rows without a field are skipped."""

    def get(name: str) -> str:
        return str(params.get(name) or "").strip()

    parsed = Parsed(
        raw={
            "source": get("source"),
            "filters": [],
            "groups": [],
            "measures": [],
            "chart": get("chart") or "bar",
        }
    )
    for i in range(FILTER_ROWS):
        name = get(f"f{i}_field")
        if not name:
            continue
        op, value = get(f"f{i}_op"), get(f"f{i}_value")
        parsed.rows[f"filters.{len(parsed.raw['filters'])}"] = f"f{i}"
        parsed.raw["filters"].append(
            {
                "field": name,
                "op": op,
                "value": [v.strip() for v in value.split(",") if v.strip()]
                if op == "in"
                else value,
            }
        )
    for i in range(GROUP_ROWS):
        name = get(f"g{i}_field")
        if name:
            parsed.rows[f"groups.{len(parsed.raw['groups'])}"] = f"g{i}"
            parsed.raw["groups"].append({"field": name, "bucket": get(f"g{i}_bucket")})
    for i in range(engine.MAX_MEASURES):
        fn = get(f"m{i}_fn")
        if fn:
            parsed.rows[f"measures.{len(parsed.raw['measures'])}"] = f"m{i}"
            parsed.raw["measures"].append({"fn": fn, "field": get(f"m{i}_field")})
    return parsed
