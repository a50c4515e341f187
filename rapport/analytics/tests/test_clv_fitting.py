"""The BG/NBD and Gamma-Gamma fits against the published CDNOW results, their predictions
against the paper's worked example, and degenerate inputs (a clear error, never a NaN)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from rapport.analytics.clv import fitting, summary

DATA = Path(__file__).parent / "data" / "cdnow_sample.txt"
EPOCH = dt.date(1970, 1, 1)


def cdnow_summary() -> fitting.Summary:
    raw = np.loadtxt(DATA, dtype=str)
    days = [(dt.datetime.strptime(s, "%Y%m%d").date() - EPOCH).days for s in raw[:, 2]]
    end = (dt.date(1997, 9, 30) - EPOCH).days
    _, s = summary.summarise_transactions(
        raw[:, 1].astype(int), days, raw[:, 4].astype(float), calibration_end_day=end
    )
    return s


@pytest.fixture(scope="module")
def cdnow() -> fitting.Summary:
    return cdnow_summary()


def test_cdnow_summary_matches_the_published_one(cdnow):
    # Hardie's summary: 2,357 customers, 1,411 without a repeat purchase; customer 1
    # bought on 1 Jan, 18 Jan and 2 Aug 1997: x=2, t_x=30.43, T=38.86, zbar=22.35.
    assert len(cdnow) == 2357
    assert int((cdnow.frequency == 0).sum()) == 1411
    assert cdnow.frequency[0] == 2
    assert cdnow.recency[0] == pytest.approx(30.43, abs=0.005)
    assert cdnow.T[0] == pytest.approx(38.86, abs=0.005)
    assert cdnow.monetary[0] == pytest.approx((29.73 + 14.96) / 2)


def test_bgnbd_reproduces_the_published_parameters(cdnow):
    params = fitting.fit_bgnbd(cdnow)
    assert round(params.r, 3) == 0.243
    assert round(params.alpha, 3) == 4.414
    assert round(params.a, 3) == 0.793
    assert round(params.b, 3) == 2.426
    assert params.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    # The log-likelihood reported is the sum of the per-customer ones, in weeks.
    assert fitting.bgnbd_log_likelihood(params, cdnow).sum() == pytest.approx(
        params.log_likelihood, abs=1e-6
    )


def test_gamma_gamma_reproduces_the_published_parameters(cdnow):
    params = fitting.fit_gamma_gamma(cdnow)
    assert round(params.p, 2) == 6.25
    assert round(params.q, 2) == 3.74
    assert round(params.gamma, 2) == 15.44


def test_fit_is_the_same_whatever_the_time_unit(cdnow):
    in_days = fitting.as_summary(cdnow.frequency, cdnow.recency * 7, cdnow.T * 7)
    weeks, days = fitting.fit_bgnbd(cdnow), fitting.fit_bgnbd(in_days)
    assert days.r == pytest.approx(weeks.r, rel=1e-4)
    assert days.alpha == pytest.approx(weeks.alpha * 7, rel=1e-4)
    assert days.b == pytest.approx(weeks.b, rel=1e-4)


def test_predictions_match_the_paper_worked_example():
    # Fader, Hardie & Lee (2005), section 5: x=2, t_x=30.43, T=38.86 expects 1.226
    # purchases in the next 39 weeks.
    params = fitting.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=0)
    one = fitting.as_summary([2, 0], [30.43, 0], [38.86, 38.86])
    assert fitting.expected_purchases(params, one, 39)[0] == pytest.approx(1.226, abs=0.001)
    alive = fitting.probability_alive(params, one)
    assert 0 < alive[0] < 1
    assert alive[1] == 1.0  # no repeat purchase yet: nothing says they left


def test_p_alive_falls_the_longer_a_frequent_buyer_is_silent():
    params = fitting.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=0)
    s = fitting.as_summary([5, 5, 5], [38, 20, 5], [38.86, 38.86, 38.86])
    alive = fitting.probability_alive(params, s)
    assert alive[0] > alive[1] > alive[2]


def test_clv_is_discounted_and_grows_with_the_horizon(cdnow):
    result = fitting.fit_and_predict(cdnow, horizon_weeks=52, annual_discount_rate=0.10)
    undiscounted = fitting.customer_lifetime_value(
        result.bgnbd, result.gamma_gamma, cdnow, horizon_weeks=52, annual_discount_rate=0.0
    )
    longer = fitting.customer_lifetime_value(
        result.bgnbd, result.gamma_gamma, cdnow, horizon_weeks=104, annual_discount_rate=0.10
    )
    assert np.all(result.clv >= 0) and np.all(np.isfinite(result.clv))
    assert np.all(undiscounted >= result.clv) and undiscounted.sum() > result.clv.sum()
    assert longer.sum() > result.clv.sum()
    # Undiscounted CLV is expected purchases times expected spend.
    assert undiscounted == pytest.approx(result.expected_purchases * result.expected_spend)
    # A frequent recent buyer is worth more than a one-off.
    assert result.clv[0] > result.clv[2]


def test_expected_spend_shrinks_own_mean_towards_the_population(cdnow):
    params = fitting.fit_gamma_gamma(cdnow)
    s = fitting.as_summary([1, 20], [5, 30], [38, 38], [100.0, 100.0])
    spend = fitting.expected_spend(params, s)
    population = params.p * params.gamma / (params.q - 1)
    assert population < spend[0] < spend[1] < 100.0


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "monetary", "message"),
    [
        ([], [], [], [], "No customer bought"),
        ([1], [1], [2], [10.0], "Only 1 customer"),
        ([0, 0, 0, 0], [0, 0, 0, 0], [3, 4, 5, 6], [0, 0, 0, 0], "No customer bought on a second"),
        ([1, 1, 0], [1, 2, 0], [5, 5, 5], [10.0, 10.0, 0], "spends exactly the same"),
        ([1, 0, 0], [1, 0, 0], [5, 5, 5], [10.0, 0, 0], "Only 1 customer(s) bought again"),
    ],
)
def test_degenerate_inputs_give_a_clear_error(frequency, recency, T, monetary, message):
    s = fitting.as_summary(frequency, recency, T, monetary)
    with pytest.raises(fitting.ClvFitError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fitting.fit_and_predict(s, horizon_weeks=52, annual_discount_rate=0.1)


def test_unidentifiable_data_is_an_error_not_a_nan():
    s = fitting.as_summary([1, 2, 3, 0, 0], [1, 2, 3, 0, 0], [5] * 5, [10.0, 12, 9, 0, 0])
    with pytest.raises(fitting.ClvFitError, match="cannot be estimated"):
        fitting.fit_bgnbd(s)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([1], [3], [2]), "recency must lie between 0 and T"),
        (([1.5], [1], [2]), "whole number"),
        (([1], [np.nan], [2]), "missing or infinite"),
        (([1, 2], [1], [2]), "of one length"),
    ],
)
def test_bad_summaries_are_refused(args, message):
    with pytest.raises(fitting.ClvFitError, match=message):
        fitting.as_summary(*args)


def test_summary_counts_purchase_days_not_orders():
    # Customer 7: two orders on day 10 (one transaction of 30), then day 17 and day 24.
    ids, s = summary.summarise_transactions(
        [7, 7, 7, 7, 9, 7],
        [10, 10, 17, 24, 12, 40],
        [10.0, 20.0, 5.0, 15.0, 8.0, 99.0],
        calibration_end_day=31,
    )
    assert ids.tolist() == [7, 9]
    assert s.frequency.tolist() == [2, 0]
    assert s.recency.tolist() == [2.0, 0.0]
    assert s.T.tolist() == [3.0, 19 / 7]
    assert s.monetary.tolist() == [10.0, 0.0]  # (5 + 15) / 2: the first day left out
