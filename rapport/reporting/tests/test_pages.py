"""The report pages: builder with live preview and errors beside the fields, a saved
report with its figures, the drill-down list of the records behind a figure, the
exports and the dashboards."""

from __future__ import annotations

import csv
import io
import json
import re
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client
from openpyxl import load_workbook

from rapport.identity.models import RolePermission
from rapport.identity.tests.factories import UserFactory
from rapport.reporting import engine, services
from rapport.reporting.engine import ReportDefinition
from rapport.reporting.models import SavedReport
from rapport.reporting.query_params import definition_query

pytestmark = pytest.mark.django_db

BY_STATUS = {"source": "orders", "groups": [{"field": "status"}]}


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_builder_previews_and_saves(world) -> None:
    client = client_for(world.admin)
    page = client.get("/reports/new/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="source"' in html and "Preview" in html

    params = {"source": "orders", "g0_field": "status", "m0_fn": "count", "chart": "bar"}
    fragment = client.get("/reports/new/", params, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="builder")
    body = fragment.content.decode()
    assert fragment.status_code == 200 and "<html" not in body
    assert 'id="builder"' in body and "report-chart-data" in body and "Paid" in body

    saved = client.post("/reports/new/", {**params, "name": "Orders by status"})
    assert saved.status_code == 302
    report = SavedReport.objects.get(name="Orders by status")
    assert saved["Location"] == f"/reports/{report.pk}/"
    assert report.definition["groups"] == [{"field": "status", "bucket": ""}]


def test_builder_says_what_is_wrong_beside_the_field(world) -> None:
    client = client_for(world.admin)
    page = client.get(
        "/reports/new/",
        {"source": "orders", "f0_field": "total", "f0_op": "gte", "f0_value": "lots"},
    )
    html = page.content.decode()
    assert 'id="err-f0_value"' in html and "Total: &#x27;lots&#x27; is not a number." in html
    refused = client.post("/reports/new/", {"source": "orders", "m0_fn": "count", "name": ""})
    assert refused.status_code == 422 and "Give the report a name." in refused.content.decode()
    assert not SavedReport.objects.exists()


def test_edit_keeps_the_report_and_refuses_others(world) -> None:
    report = services.report_create(actor=world.rep, name="Mine", definition=BY_STATUS)
    assert client_for(world.manager).get(f"/reports/{report.pk}/edit/").status_code == 404
    client = client_for(world.rep)
    page = client.get(f"/reports/{report.pk}/edit/")
    assert page.status_code == 200 and 'value="Mine"' in page.content.decode()
    done = client.post(
        f"/reports/{report.pk}/edit/",
        {
            "source": "orders",
            "g0_field": "channel",
            "m0_fn": "count",
            "name": "Mine",
            "version": "1",
        },
    )
    assert done.status_code == 302
    report.refresh_from_db()
    assert report.definition["groups"][0]["field"] == "channel" and report.version == 2


def test_report_page_links_every_figure_to_its_records(world) -> None:
    report = services.report_create(actor=world.rep, name="Mine", definition=BY_STATUS)
    client = client_for(world.rep)
    html = client.get(f"/reports/{report.pk}/").content.decode()
    definition = ReportDefinition.from_dict(report.definition)
    result = engine.run_report(definition, actor=world.rep)
    assert result.rows
    for row in result.rows:
        url = f"/reports/records/?report={report.pk}&amp;k={row.keys[0]}"
        assert url in html
        listing = client.get(url.replace("&amp;", "&"))
        assert listing.status_code == 200
        linked = re.findall(r'href="/commerce/orders/\d+/"', listing.content.decode())
        assert len(linked) == row.values[0]


def test_drill_down_of_an_unsaved_report_and_by_date_bucket(world) -> None:
    client = client_for(world.admin)
    definition = ReportDefinition.from_dict(
        {"source": "interactions", "groups": [{"field": "occurred_at", "bucket": "month"}]}
    )
    result = engine.run_report(definition, actor=world.admin)
    row = result.rows[1]
    page = client.get(f"/reports/records/?{definition_query(definition)}&k={row.keys[0]}")
    html = page.content.decode()
    assert page.status_code == 200 and row.labels[0] in html
    assert html.count('href="/customers/') >= 1
    # The number of rows listed is the figure (page size 50 holds them all here).
    assert html.count("<tr>") - 1 == row.values[0]


def test_drill_down_refuses_bad_definitions_and_other_peoples_reports(world) -> None:
    report = services.report_create(actor=world.rep, name="Mine", definition=BY_STATUS)
    assert client_for(world.manager).get(f"/reports/records/?report={report.pk}").status_code == 404
    bad = client_for(world.admin).get("/reports/records/?source=orders&g0_field=password")
    assert bad.status_code == 404


def test_drill_down_list_query_count_is_flat(world, django_assert_max_num_queries) -> None:
    client = client_for(world.admin)
    url = "/reports/records/?source=orders&m0_fn=count"
    client.get(url)
    with django_assert_max_num_queries(6):
        few = client.get(url + "&page_size=50")
    assert few.status_code == 200


def test_export_csv_and_xlsx_hold_the_table(world) -> None:
    report = services.report_create(
        actor=world.admin,
        name="Revenue by status",
        definition={**BY_STATUS, "measures": [{"fn": "count"}, {"fn": "sum", "field": "total"}]},
    )
    client = client_for(world.admin)
    result = engine.run_report(ReportDefinition.from_dict(report.definition), actor=world.admin)
    response = client.get(f"/reports/export/?report={report.pk}&format=csv")
    assert response["Content-Disposition"] == 'attachment; filename="revenue-by-status.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["Status", "Number of orders", "Sum of total"]
    assert rows[1:] == [[*r.labels, *(str(v) for v in r.values)] for r in result.rows]

    xlsx = client.get(f"/reports/export/?report={report.pk}&format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert [c.value for c in next(sheet.iter_rows())] == rows[0]
    assert sheet.max_row == len(result.rows) + 1

    # A role without the export grant gets no file (nor the link).
    services.report_share(actor=world.admin, report=report, role_ids=[world.rep.role_id])
    RolePermission.objects.filter(role=world.rep.role).update(can_export=False)
    rep = client_for(world.rep)
    assert rep.get(f"/reports/export/?report={report.pk}&format=csv").status_code == 403
    assert "format=csv" not in rep.get(f"/reports/{report.pk}/").content.decode()


def test_dashboard_seeds_and_shows_tiles_by_role(world) -> None:
    admin = client_for(world.admin)
    empty = admin.get("/reports/").content.decode()
    assert "Add the standard reports" in empty
    assert admin.post("/reports/dashboards-seed/").status_code == 302
    html = admin.get("/reports/").content.decode()
    assert "Management dashboard" in html
    for name in ("Revenue by month", "Customers by lifecycle stage", "Orders by status"):
        assert name in html
    assert html.count("data-report-chart=") == 3
    sales = client_for(world.rep).get("/reports/dashboards/sales/").content.decode()
    assert "Revenue by channel" in sales and "Forecasts and quotas are not built" in sales
    # The pipeline tiles are over deals, which this rep's role does not grant: not shown.
    assert "Open pipeline by stage" not in sales
    assert "Open pipeline by stage" in admin.get("/reports/dashboards/sales/").content.decode()
    service = client_for(world.rep).get("/reports/dashboards/service/").content.decode()
    assert "SLA attainment over time is not charted" in service
    # A user whose role sees no orders gets no order tiles.
    nobody = client_for(UserFactory()).get("/reports/").content.decode()
    assert "Revenue by month" not in nobody
    assert client_for(world.rep).get("/reports/dashboards/nope/").status_code == 404


def test_share_and_delete_pages(world) -> None:
    report = services.report_create(actor=world.rep, name="Mine", definition=BY_STATUS)
    client = client_for(world.rep)
    page = client.get(f"/reports/{report.pk}/").content.decode()
    assert "Save sharing" in page
    client.post(f"/reports/{report.pk}/share/", {"roles": [world.manager.role_id]})
    listed = client_for(UserFactory(role=world.manager.role)).get("/reports/saved/")
    assert "Mine" in listed.content.decode()
    assert "Save sharing" not in client_for(world.admin).get("/reports/saved/").content.decode()
    done = client.post(f"/reports/{report.pk}/delete/")
    assert done.status_code == 302 and not SavedReport.objects.exists()


def test_chart_data_links_each_bar(world) -> None:
    client = client_for(world.admin)
    html = client.get(
        "/reports/new/",
        {
            "source": "customers",
            "g0_field": "created_at",
            "g0_bucket": "month",
            "g1_field": "lifecycle_stage",
            "m0_fn": "count",
            "chart": "bar",
        },
    ).content.decode()
    payload = re.search(r'id="report-chart-data" data-report-chart="([^"]*)"', html)
    assert payload is not None
    data = json.loads(unescape(payload.group(1)))
    assert data["stacked"] and len(data["datasets"]) >= 2
    url = data["datasets"][0]["urls"][0]
    query = parse_qs(urlparse(url).query)
    assert query["k"][0] and query["g0_bucket"] == ["month"]
