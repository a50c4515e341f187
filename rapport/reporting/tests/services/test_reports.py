"""Saving, changing, sharing and deleting reports: each checks who may, validates the
definition, writes an audit row and emits its event in one transaction."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.core.errors import Conflict
from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.identity.tests.factories import RoleFactory, UserFactory
from rapport.reporting import selectors, services
from rapport.reporting.models import SavedReport

pytestmark = pytest.mark.django_db

BY_STATUS = {"source": "orders", "groups": [{"field": "status"}]}


def _events(report: SavedReport) -> list[str]:
    return list(
        OutboxEvent.objects.filter(aggregate_id=str(report.pk))
        .order_by("id")
        .values_list("type", flat=True)
    )


def _audit(report: SavedReport) -> list[str]:
    return list(
        AuditLogEntry.objects.filter(object_type="reporting.savedreport", object_id=str(report.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_report_create_validates_audits_and_emits(world) -> None:
    report = services.report_create(
        actor=world.rep, name=" Orders by status ", definition=BY_STATUS
    )
    assert report.name == "Orders by status" and report.owner == world.rep
    assert report.definition["measures"] == [{"fn": "count", "field": ""}]
    assert _audit(report) == ["create"] and _events(report) == ["report.created"]

    with pytest.raises(ValidationError) as exc:
        services.report_create(
            actor=world.rep, name="Bad", definition={"source": "orders", "groups": [{"field": "x"}]}
        )
    assert "groups.0.field" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.report_create(actor=world.rep, name="  ", definition=BY_STATUS)
    assert "name" in exc.value.message_dict
    assert SavedReport.objects.count() == 1


def test_report_create_refuses_a_source_outside_the_role_and_dashboards_to_non_admins(
    world,
) -> None:
    with pytest.raises(PermissionDenied):
        services.report_create(actor=UserFactory(), name="Orders", definition=BY_STATUS)
    with pytest.raises(PermissionDenied):
        services.report_create(
            actor=world.rep, name="Orders", definition=BY_STATUS, dashboard="sales"
        )
    tile = services.report_create(
        actor=world.admin, name="Orders", definition=BY_STATUS, dashboard="sales"
    )
    assert tile.dashboard == "sales"


def test_report_update_changes_what_is_given_and_refuses_stale_versions(world) -> None:
    report = services.report_create(actor=world.rep, name="Orders", definition=BY_STATUS)
    updated = services.report_update(
        actor=world.rep,
        report=report,
        name="Orders by channel",
        definition={**BY_STATUS, "groups": [{"field": "channel"}]},
        expected_version=1,
    )
    assert updated.version == 2 and updated.definition["groups"][0]["field"] == "channel"
    assert _audit(report) == ["create", "update"]
    assert _events(report) == ["report.created", "report.updated"]
    with pytest.raises(Conflict):
        services.report_update(actor=world.rep, report=report, name="Again", expected_version=1)
    with pytest.raises(PermissionDenied):
        services.report_update(actor=world.manager, report=report, name="Mine now")
    # Nothing changed: no version, no audit row.
    same = services.report_update(actor=world.rep, report=updated, name="Orders by channel")
    assert same.version == 2 and len(_audit(report)) == 2


def test_report_share_by_role_decides_who_sees_it(world) -> None:
    report = services.report_create(actor=world.rep, name="Mine", definition=BY_STATUS)
    reader = UserFactory(role=world.manager.role)
    stranger = UserFactory(role=RoleFactory())
    assert report not in selectors.report_list(actor=reader)

    services.report_share(actor=world.rep, report=report, role_ids=[world.manager.role_id])
    assert report in selectors.report_list(actor=reader)
    assert report in selectors.report_list(actor=world.manager)
    assert report not in selectors.report_list(actor=stranger)
    assert report in selectors.report_list(actor=world.admin)
    assert selectors.shared_role_ids(report=report) == [world.manager.role_id]
    assert _events(report)[-1] == "report.shared"
    # A reader may open it but not change or re-share it.
    assert not services.may_change(reader, report) and services.may_change(world.rep, report)
    with pytest.raises(PermissionDenied):
        services.report_share(actor=reader, report=report, role_ids=[])

    services.report_share(actor=world.rep, report=report, role_ids=[], everyone=True)
    assert report in selectors.report_list(actor=stranger)
    services.report_share(actor=world.rep, report=report, role_ids=[])
    assert report not in selectors.report_list(actor=stranger)
    assert report not in selectors.report_list(actor=reader)
    with pytest.raises(ValidationError):
        services.report_share(actor=world.rep, report=report, role_ids=[987654])


def test_report_delete_by_owner_or_admin(world) -> None:
    report = services.report_create(actor=world.rep, name="Mine", definition=BY_STATUS)
    with pytest.raises(PermissionDenied):
        services.report_delete(actor=world.manager, report=report)
    services.report_delete(actor=world.admin, report=report)
    assert not SavedReport.objects.filter(pk=report.pk).exists()
    assert _audit(report) == ["create", "delete"]
    assert _events(report) == ["report.created", "report.deleted"]


def test_dashboards_seed_creates_the_standard_tiles_once(world) -> None:
    with pytest.raises(PermissionDenied):
        services.dashboards_seed(actor=world.rep)
    created = services.dashboards_seed(actor=world.admin)
    assert created >= 7
    assert services.dashboards_seed(actor=world.admin) == 0
    tiles = selectors.dashboard_reports(actor=world.rep, dashboard="management")
    assert [t.name for t in tiles] == [
        "Revenue by month",
        "Customers by lifecycle stage",
        "Orders by status",
    ]
    assert all(t.owner_id is None and t.shared_with_everyone for t in tiles)


def test_demo_loader_seeds_the_dashboards(world) -> None:
    from rapport.reporting import demo

    assert "dashboard report(s) added" in demo.load()
    assert SavedReport.objects.filter(dashboard="marketing").count() == 2
