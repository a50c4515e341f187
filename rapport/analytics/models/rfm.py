"""RFM: each customer's recency, frequency and monetary figures, their quintile scores and
the named segment the R and FM scores map to, recomputed in one SQL statement by a task
(`rapport.analytics.rfm`)."""

from __future__ import annotations

from django.db import models


class RfmSegment(models.TextChoices):
    CHAMPIONS = "champions", "Champions"
    LOYAL = "loyal", "Loyal"
    POTENTIAL_LOYALIST = "potential_loyalist", "Potential loyalist"
    NEW = "new", "New"
    PROMISING = "promising", "Promising"
    NEED_ATTENTION = "need_attention", "Need attention"
    ABOUT_TO_SLEEP = "about_to_sleep", "About to sleep"
    AT_RISK = "at_risk", "At risk"
    CANT_LOSE = "cant_lose", "Can't lose"
    HIBERNATING = "hibernating", "Hibernating"
    LOST = "lost", "Lost"


class RfmScore(models.Model):
    """One customer's RFM figures as of the last run; customers without a counted order
    have no row. Derived data: the whole table is rewritten by each run."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, primary_key=True, related_name="rfm"
    )
    recency_days = models.PositiveIntegerField()  # days from the last purchase to `as_of`
    frequency = models.PositiveIntegerField()  # distinct purchase days
    orders = models.PositiveIntegerField()
    monetary = models.DecimalField(max_digits=14, decimal_places=2)  # revenue, order totals
    first_order_at = models.DateTimeField()
    last_order_at = models.DateTimeField()
    r_score = models.PositiveSmallIntegerField()
    f_score = models.PositiveSmallIntegerField()
    m_score = models.PositiveSmallIntegerField()
    fm_score = models.PositiveSmallIntegerField()  # round((F + M) / 2), half up
    segment = models.CharField(max_length=20, choices=RfmSegment.choices)
    as_of = models.DateField()

    class Meta:
        indexes = [
            models.Index(fields=["segment"], name="rfm_segment"),
            models.Index(fields=["r_score", "f_score"], name="rfm_cell"),
        ]

    def __str__(self) -> str:
        return f"RFM {self.r_score}{self.f_score}{self.m_score} ({self.get_segment_display()})"

    @property
    def code(self) -> str:
        return f"{self.r_score}{self.f_score}{self.m_score}"
