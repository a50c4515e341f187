"""RFM scoring: every customer's recency, frequency and monetary quintiles and named
segment, computed by the database in one INSERT … SELECT (window functions) and run as a
background job, daily and on demand.

Figures count orders that bring revenue (not cancelled or returned) up to the end of the
`as_of` day. Frequency is the number of distinct purchase days (two orders on one day are
one visit, as in the CLV models), monetary the sum of the order totals. Scores are
NTILE(5) quintiles in ascending order of each figure (recency: of the last purchase day);
customers who share a value share its score (the quintile the first of them falls in), so
the 60 % of one-time buyers of a typical shop all get F = 1 rather than being spread over
F 1-3 by an arbitrary tie-break.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from rapport.analytics.models import RfmScore, RfmSegment
from rapport.commerce.models import NON_REVENUE_STATUSES, Order
from rapport.core import events, outbox, registry
from rapport.core.jobs import Progress, job_create, run_job
from rapport.core.models import Job

RFM_JOB_KIND = "analytics.rfm"
RFM_EVENT = "rfm.recomputed"

events.register(RFM_EVENT, "Every customer's RFM scores and segment were recomputed.")

S = RfmSegment
# The standard RFM grid: the segment of each (R, FM) pair, FM = round((F + M) / 2).
# Rows are R 5 (bought lately) to 1; columns FM 1 to 5.
SEGMENT_GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: (S.NEW, S.POTENTIAL_LOYALIST, S.LOYAL, S.CHAMPIONS, S.CHAMPIONS),
    4: (S.PROMISING, S.POTENTIAL_LOYALIST, S.LOYAL, S.CHAMPIONS, S.CHAMPIONS),
    3: (S.ABOUT_TO_SLEEP, S.ABOUT_TO_SLEEP, S.NEED_ATTENTION, S.LOYAL, S.LOYAL),
    2: (S.HIBERNATING, S.HIBERNATING, S.AT_RISK, S.AT_RISK, S.AT_RISK),
    1: (S.LOST, S.HIBERNATING, S.AT_RISK, S.CANT_LOSE, S.CANT_LOSE),
}

# What each segment means and what to do about it, for the page and the docs.
SEGMENT_ADVICE: dict[str, str] = {
    S.CHAMPIONS: "Bought lately, buy often and spend the most. Reward them; ask for reviews.",
    S.LOYAL: "Buy regularly and spend well. Up-sell; invite to the loyalty programme.",
    S.POTENTIAL_LOYALIST: "Recent customers with average frequency. Offer membership.",
    S.NEW: "Bought for the first time, lately. Onboard them; make the second order easy.",
    S.PROMISING: "Recent, but low frequency and spend. Build awareness; free trials.",
    S.NEED_ATTENTION: "Average on all three. Limited-time offers, recommendations.",
    S.ABOUT_TO_SLEEP: "Below average recency and frequency. Reactivate before they go.",
    S.AT_RISK: "Used to buy often and spend well, but not lately. Win them back.",
    S.CANT_LOSE: "Were among the best, long gone quiet. Reach out personally.",
    S.HIBERNATING: "Low spend, low frequency, long ago. Offer relevant products.",
    S.LOST: "Lowest on every score. Revive with a campaign or let go.",
}


def segment_for(r_score: int, fm_score: int) -> str:
    """The named segment of an R score and an FM score (both 1 to 5)."""
    return str(SEGMENT_GRID[r_score][fm_score - 1])


@dataclass(frozen=True)
class RfmRun:
    as_of: dt.date
    scored: int
    segments: dict[str, int]


def _segment_case() -> str:
    """The grid as SQL: CASE r * 10 + fm WHEN 51 THEN 'new' … END (constants only)."""
    whens = " ".join(
        f"WHEN {r * 10 + fm} THEN '{segment_for(r, fm)}'" for r in range(1, 6) for fm in range(1, 6)
    )
    return f"CASE r * 10 + fm {whens} END"


def _tile(position: str) -> str:
    """NTILE(5)'s tile for the row at 1-based `position` of n rows, as SQL: the first n % 5
    tiles hold n / 5 + 1 rows, the others n / 5. Given RANK() (the position of the first
    of a run of equal values), every tied customer gets the first one's tile: the same
    scores as NTILE followed by MIN over each value's ties, in three sorts rather than six.
    """
    big, small, rest = "(n / 5 + 1)", "NULLIF(n / 5, 0)", "(n - n / 5 * 5)"  # rest: n mod 5
    return (
        f"CASE WHEN {position} <= {rest} * {big} THEN ({position} - 1) / {big} + 1 "
        f"ELSE {rest} + ({position} - 1 - {rest} * {big}) / {small} + 1 END"
    )


def _recency_sql() -> str:
    """Whole days from the last purchase day to the as-of date (a parameter)."""
    if connection.vendor == "postgresql":
        return "(CAST(%s AS date) - last_day)"
    return "CAST(julianday(%s) - julianday(last_day) AS INTEGER)"


class PurchaseDay(TruncDate):
    """An order's day in the site's time zone. SQLite: with UTC, the stored text's first
    ten characters, instead of Django's Python function per row (ten times faster)."""

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        if timezone.get_current_timezone_name() != "UTC":
            return self.as_sql(compiler, connection, **extra)
        sql, params = compiler.compile(self.lhs)
        return f"substr({sql}, 1, 10)", params


def _aggregate(as_of: dt.date) -> tuple[str, tuple[Any, ...]]:
    """Per customer: first and last order, purchase days, orders and revenue (GROUP BY)."""
    end = timezone.make_aware(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min))
    queryset = (
        Order.objects.filter(ordered_at__lt=end)
        .exclude(status__in=NON_REVENUE_STATUSES)
        .values("customer_id")
        .annotate(
            first_at=Min("ordered_at"),
            last_at=Max("ordered_at"),
            last_day=Max(PurchaseDay("ordered_at")),
            days=Count(PurchaseDay("ordered_at"), distinct=True),
            n_orders=Count("id"),
            revenue=Sum("total"),
        )
        .order_by()
    )
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params)


def score_all(*, as_of: dt.date | None = None) -> RfmRun:
    """Rewrite every customer's RFM row as of the end of `as_of` (default: today) in one
    statement; returns the count per segment. Called by the job, not by pages."""
    as_of = as_of or timezone.localdate()
    aggregate_sql, aggregate_params = _aggregate(as_of)
    table = RfmScore._meta.db_table
    sql = f"""
        WITH agg AS ({aggregate_sql}),
        ranked AS (
            SELECT agg.*, {_recency_sql()} AS recency_days, COUNT(*) OVER () AS n,
                RANK() OVER (ORDER BY last_day) AS r_pos,
                RANK() OVER (ORDER BY days) AS f_pos,
                RANK() OVER (ORDER BY revenue) AS m_pos
            FROM agg
        ),
        scored AS (
            SELECT ranked.*, {_tile("r_pos")} AS r, {_tile("f_pos")} AS f,
                {_tile("m_pos")} AS m
            FROM ranked
        ),
        graded AS (SELECT scored.*, (f + m + 1) / 2 AS fm FROM scored)
        INSERT INTO {table} (customer_id, recency_days, frequency, orders, monetary,
            first_order_at, last_order_at, r_score, f_score, m_score, fm_score, segment, as_of)
        SELECT customer_id, recency_days, days, n_orders, revenue, first_at, last_at,
            r, f, m, fm, {_segment_case()}, %s
        FROM graded
    """  # noqa: S608 (identifiers and the grid are constants; values are parameters)
    params = (*aggregate_params, as_of.isoformat(), as_of.isoformat())
    with transaction.atomic():
        RfmScore.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        counts = dict(
            RfmScore.objects.values_list("segment").annotate(n=Count("pk")).order_by("segment")
        )
        scored = sum(counts.values())
        outbox.emit(
            RFM_EVENT, {"as_of": as_of.isoformat(), "customers": scored, "segments": counts}
        )
    return RfmRun(as_of=as_of, scored=scored, segments=Counter(counts))


# --- the job -------------------------------------------------------------------------


@transaction.atomic
def rfm_recompute_start(*, actor: Any) -> Job:
    """Queue a recompute of every customer's RFM scores (administrators: it reads every
    order) and return the job whose progress the page shows."""
    if not getattr(actor, "is_admin", False):
        raise PermissionDenied("Only administrators may recompute RFM scores.")
    job = job_create(owner=actor, kind=RFM_JOB_KIND, title="Recompute RFM scores")
    transaction.on_commit(lambda: registry.enqueue("analytics.rfm_job", job_id=str(job.pk)))
    return job


def rfm_scheduled() -> dict[str, Any]:
    """The daily recompute, as a job anyone can follow on the jobs page."""
    job = job_create(owner=None, kind=RFM_JOB_KIND, title="Recompute RFM scores")
    return run_job(job.pk, rfm_execute)


def rfm_execute(job: Job, progress: Progress) -> dict[str, Any]:
    progress.set_total(1)
    progress.advance(0, message="Scoring customers")
    run = score_all()
    progress.advance(1, message=f"{run.scored} customers scored")
    return {"as_of": run.as_of.isoformat(), "scored": run.scored, "segments": run.segments}
