"""Reads of imports (a user sees their own, admins everyone's) and of the data-quality
report (always narrowed to the customers the actor may see)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum, Value

from rapport.core.models import Job, JobStatus
from rapport.core.permissions import Scope, require
from rapport.customers import quality
from rapport.customers import selectors as customer_selectors
from rapport.customers.models import Customer, CustomerKind
from rapport.dataquality.models import ImportRun

CUSTOMER_TYPE = "customers.customer"


def import_runs(*, actor: Any) -> QuerySet[ImportRun]:
    qs = ImportRun.objects.select_related("owner", "job", "dry_run_job")
    return qs if actor.is_admin else qs.filter(owner=actor)


def import_run_for(*, actor: Any, run_id: Any) -> ImportRun:
    return import_runs(actor=actor).get(pk=run_id)


# --- The data-quality report ("worst fields") -----------------------------------------

REPORT_JOB_KIND = "dataquality.quality_report"


def report_scope_key(*, actor: Any) -> str:
    """Which records a report counts, as a cache key: everyone with `all` scope shares
    one report; otherwise it is the actor's own (their records, their teams')."""
    grant = actor.grant_for(CUSTOMER_TYPE)
    if grant.scope == Scope.ALL:
        return "all"
    teams = sorted(actor.team_ids()) if grant.scope == Scope.TEAM else []
    return f"{grant.scope}:{actor.pk}:{','.join(str(t) for t in teams)}"


def _bit_count(bit: int) -> Sum:
    # (issues & bit) / bit is 1 when the bit is set, else 0: summed, it counts the records.
    return Sum(F("quality_issues").bitand(bit) / Value(bit))


def quality_counts(*, actor: Any) -> dict[str, Any]:
    """Per issue, how many of the records `actor` may see have it, with the score bands,
    in ONE aggregate query (one pass over the visible customers; no query per field).
    Erased records are left out: there is nothing left in them to fix."""
    require(actor, "view", Customer)
    visible = customer_selectors.customer_list(actor=actor).filter(erased_at__isnull=True)
    aggregates: dict[str, Any] = {
        "records": Count("pk"),
        "persons": Count("pk", filter=Q(kind=CustomerKind.PERSON)),
        "organizations": Count("pk", filter=Q(kind=CustomerKind.ORGANIZATION)),
        "score_sum": Sum("quality_score"),
        "poor": Count("pk", filter=Q(quality_score__lt=POOR_BELOW)),
        "fair": Count("pk", filter=Q(quality_score__gte=POOR_BELOW, quality_score__lt=GOOD_FROM)),
        "unscored": _bit_count(quality.Issue.UNSCORED),
    }
    for info in quality.ISSUES:
        aggregates[f"issue:{info.key}"] = _bit_count(int(info.issue))
    row = visible.order_by().aggregate(**aggregates)
    return {k: int(v or 0) for k, v in row.items()}


POOR_BELOW = 50
GOOD_FROM = 80


@dataclass(frozen=True)
class FieldRow:
    """One line of the report: a field and what is wrong with it, across the records."""

    field: str
    label: str
    applicable: int  # records the field is asked of (birth date: persons; website: orgs)
    missing: int
    invalid: int
    unformatted: int
    issues: dict[str, str]  # problem → the issue's filter name, for the links
    fix: str | None
    fix_label: str

    @property
    def bad(self) -> int:
        return self.missing + self.invalid + self.unformatted

    @property
    def percent_bad(self) -> float:
        return 100.0 * self.bad / self.applicable if self.applicable else 0.0


@dataclass(frozen=True)
class QualityReport:
    counts: dict[str, Any]
    computed_at: Any
    rows: list[FieldRow]

    @property
    def records(self) -> int:
        return int(self.counts.get("records", 0))

    @property
    def average(self) -> int | None:
        scored = self.records - int(self.counts.get("unscored", 0))
        return round(self.counts.get("score_sum", 0) / scored) if scored > 0 else None

    @property
    def good(self) -> int:
        return self.records - self.counts.get("poor", 0) - self.counts.get("fair", 0)


def build_report(counts: dict[str, Any], computed_at: Any) -> QualityReport:
    """The report's rows from the counts: one per field, worst first."""
    from rapport.customers.services import CLEANSING_FIXES

    fields: dict[str, dict[str, Any]] = {}
    for info in quality.ISSUES:
        entry = fields.setdefault(
            info.field, {"missing": 0, "invalid": 0, "format": 0, "issues": {}, "fix": None}
        )
        entry[str(info.problem)] += int(counts.get(f"issue:{info.key}", 0))
        entry["issues"][str(info.problem)] = info.key
        if info.fix:
            entry["fix"] = info.fix
    applicable = {
        "birth_date": counts.get("persons", 0),
        "website": counts.get("organizations", 0),
    }
    rows = [
        FieldRow(
            field=name,
            label=quality.FIELD_LABELS[name],
            applicable=int(applicable.get(name, counts.get("records", 0))),
            missing=entry["missing"],
            invalid=entry["invalid"],
            unformatted=entry["format"],
            issues=entry["issues"],
            fix=entry["fix"],
            fix_label=CLEANSING_FIXES[entry["fix"]][1] if entry["fix"] else "",
        )
        for name, entry in fields.items()
    ]
    rows.sort(key=lambda r: (-r.percent_bad, -r.bad, r.label))
    return QualityReport(counts=counts, computed_at=computed_at, rows=rows)


def latest_report(*, actor: Any) -> tuple[QualityReport | None, Job | None]:
    """The newest finished report for the actor's scope, and a report job still running
    for it (if any)."""
    key = report_scope_key(actor=actor)
    jobs = Job.objects.filter(kind=REPORT_JOB_KIND, params__scope_key=key)
    done = jobs.filter(status=JobStatus.SUCCEEDED).order_by("-finished_at").first()
    running = (
        jobs.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        .order_by("-created_at")
        .first()
    )
    report = None
    if done is not None and done.result.get("counts") is not None:
        report = build_report(done.result["counts"], done.finished_at)
    return report, running
