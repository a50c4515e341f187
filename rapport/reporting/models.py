"""Saved reports: a named report definition, its owner, and who it is shared with."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from rapport.core.models import TimestampedModel


class Dashboard(models.TextChoices):
    """The home dashboards, one per function; a saved report may be a tile on one."""

    MANAGEMENT = "management", "Management"
    SALES = "sales", "Sales"
    SERVICE = "service", "Service"
    MARKETING = "marketing", "Marketing"


class SavedReport(TimestampedModel):
    """A report definition (see `reporting.engine.ReportDefinition`), validated by the
    services before it is stored, so what is read back always runs."""

    # Blank: a report the system seeded for a dashboard (administrators change it).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=255, blank=True)
    definition = models.JSONField()
    shared_with_roles = models.ManyToManyField("identity.Role", blank=True, related_name="+")
    shared_with_everyone = models.BooleanField(default=False)
    dashboard = models.CharField(max_length=12, choices=Dashboard.choices, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["owner", "name"], name="savedreport_owner"),
            models.Index(
                fields=["dashboard", "position"],
                name="savedreport_dashboard",
                condition=~models.Q(dashboard=""),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("reporting:report", args=[self.pk])
