"""`rapport clv` as a user runs it: orders in through `rapport import orders`, the fit's
JSON out in the issue's shape, equal to the NumPy fit of the same purchases; bad
arguments and data that cannot support a fit are one-line errors with their exit codes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rapport.analytics.clv import fitting, summary
from rapport.config.cli import main
from rapport.core.cli import EXIT_BAD_INPUT, EXIT_USAGE
from rapport.customers.models import Customer
from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data" / "cdnow_sample.txt"
EPOCH = dt.date(1970, 1, 1)


def run_cli(capsys: Any, *args: str) -> tuple[int, str, str]:
    """The `rapport` entry point in-process, inside the test's transaction."""
    from django.db import connections

    code = 0
    close_all = connections.close_all
    connections.close_all = lambda: None  # type: ignore[method-assign]
    try:
        main(["rapport", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        connections.close_all = close_all  # type: ignore[method-assign]
    out, err = capsys.readouterr()
    return code, out, err


def cdnow_rows(customers: int) -> list[tuple[int, dt.date, str]]:
    raw = np.loadtxt(DATA, dtype=str)
    return [
        (int(r[1]), dt.datetime.strptime(r[2], "%Y%m%d").date(), r[4])
        for r in raw
        if int(r[1]) <= customers
    ]


def test_clv_after_import_orders_prints_the_fit_and_every_customer(capsys, tmp_path):
    UserFactory(is_superuser=True)
    rows = cdnow_rows(150)
    for cid in sorted({c for c, _, _ in rows}):
        Customer.objects.create(display_name=f"CDNOW {cid}", external_id=f"CD{cid}")
    path = tmp_path / "orders.csv"
    lines = ["external_id,customer_external_id,ordered_at,total,currency,status"]
    lines += [
        f"T{i},CD{c},{d.isoformat()}T12:00:00,{amount},EUR,delivered"
        for i, (c, d, amount) in enumerate(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    code, out, err = run_cli(capsys, "import", "orders", str(path), "--json")
    assert code == 0 and json.loads(out)["failed"] == 0, (out, err)

    code, out, err = run_cli(
        capsys,
        "clv",
        "--calibration-end",
        "1997-09-30",
        "--horizon-weeks",
        "39",
        "--discount-rate",
        "0",
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert set(result) == {"bgnbd", "gamma_gamma", "customers"}
    assert set(result["bgnbd"]) == {"r", "alpha", "a", "b", "log_likelihood"}
    assert set(result["gamma_gamma"]) == {"p", "q", "gamma"}
    assert len(result["customers"]) == 150
    assert set(result["customers"][0]) == {
        "external_id",
        "frequency",
        "recency",
        "T",
        "monetary",
        "p_alive",
        "expected_purchases",
        "clv",
    }

    # The same purchases, summarised and fitted without the database.
    end = (dt.date(1997, 9, 30) - EPOCH).days
    _, reference = summary.summarise_transactions(
        [c for c, _, _ in rows],
        [(d - EPOCH).days for _, d, _ in rows],
        [float(a) for _, _, a in rows],
        calibration_end_day=end,
    )
    expected = fitting.fit_and_predict(reference, horizon_weeks=39, annual_discount_rate=0)
    assert result["bgnbd"]["r"] == pytest.approx(expected.bgnbd.r, rel=1e-6)
    assert result["bgnbd"]["log_likelihood"] == pytest.approx(expected.bgnbd.log_likelihood)
    assert result["gamma_gamma"]["p"] == pytest.approx(expected.gamma_gamma.p, rel=1e-6)
    first = result["customers"][0]
    assert first["external_id"] == "CD1"
    # CDNOW customer 1: x=2, t_x=30.43, T=38.86 (Fader, Hardie & Lee's example).
    assert (first["frequency"], round(first["recency"], 2), round(first["T"], 2)) == (
        2,
        30.43,
        38.86,
    )
    assert first["expected_purchases"] == pytest.approx(expected.expected_purchases[0], rel=1e-5)
    # Undiscounted: CLV is expected purchases times expected spend.
    assert first["clv"] == pytest.approx(
        expected.expected_purchases[0] * expected.expected_spend[0], abs=0.01
    )


def test_no_orders_is_a_bad_input_error_with_the_reason(capsys):
    code, out, err = run_cli(capsys, "clv", "--calibration-end", "2026-01-31", "--json")
    assert code == EXIT_BAD_INPUT
    assert "nothing to fit" in json.loads(out)["detail"]
    assert err.startswith("rapport: error: ") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--calibration-end", "31/01/2026"], "YYYY-MM-DD"),
        (["--calibration-end", "2026-01-31", "--horizon-weeks", "0"], "1 to 520"),
        (["--calibration-end", "2026-01-31", "--discount-rate", "10"], "0 to 1"),
        ([], "--calibration-end"),
    ],
)
def test_bad_arguments_are_usage_errors(capsys, args, message):
    code, _, err = run_cli(capsys, "clv", *args)
    assert code == EXIT_USAGE
    assert message in err
