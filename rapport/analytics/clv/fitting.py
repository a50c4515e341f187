"""BG/NBD (repeat purchases) and Gamma-Gamma (spend) fitted by maximum likelihood, and the
predictions built on them: expected purchases, P(alive), expected spend and discounted CLV.

Pure NumPy/SciPy, no Django: the task, the CLI, the tests and the benchmark all call it.
References: Fader, Hardie & Lee, "Counting your customers the easy way" (2005) for
BG/NBD; Fader, Hardie & Lee, "RFM and CLV" (2005) and Fader & Hardie's note "The
Gamma-Gamma model of monetary value" (2013) for Gamma-Gamma.

How the fits are made fast and robust:
- every likelihood is computed in log space (gammaln, betaln, logaddexp), so a customer
  with 300 purchases does not overflow;
- the optimiser works on log-parameters inside bounds (L-BFGS-B) with the analytic
  gradient, so each iteration costs one pass over the data instead of five;
- the terms in the frequency alone (gammaln, digamma) are computed once per distinct
  frequency, weighted by how many customers have it;
- BLAS runs on one thread during the fit: its vector dot products are microseconds,
  and a threaded BLAS waiting for a second core on a busy machine makes them
  milliseconds;
- time (and money) is rescaled to order one before fitting and the scale folded back
  into alpha (gamma) after, so the same starting values work for days, weeks or years;
- a fit that stops without converging, or at a bound, is retried from other starting
  values, and one that never converges is an error that says why, not a NaN.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special
from threadpoolctl import threadpool_limits

Array = NDArray[np.float64]

# Log-parameters are bounded to [1e-8, 1e8] times the data's scale: wide enough for any
# real customer base, narrow enough that a degenerate one stops at a bound we can name.
LOG_BOUND = 18.42
# A fit whose parameter passes 1e6 (on the rescaled data, where real ones are of order
# one to a hundred) is running off to infinity: the data do not identify the model.
LOG_RUNAWAY = 13.8
MIN_CUSTOMERS = 3
MIN_REPEAT_CUSTOMERS = 2
WEEKS_PER_YEAR = 365.25 / 7
WEEKS_PER_MONTH = WEEKS_PER_YEAR / 12


class ClvFitError(ValueError):
    """The data cannot support a fit: the message says what is missing, for the user."""


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float
    log_likelihood: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Summary:
    """Per-customer inputs: repeat purchase days, recency and age in weeks, mean spend
    per repeat purchase day (0 for customers without a repeat purchase)."""

    frequency: Array
    recency: Array
    T: Array
    monetary: Array

    def __len__(self) -> int:
        return int(self.frequency.shape[0])


def as_summary(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, monetary: ArrayLike | None = None
) -> Summary:
    """Validated float arrays: equal lengths, 0 <= recency <= T, frequency a whole number,
    recency 0 exactly when frequency is 0."""
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    t = np.asarray(T, dtype=np.float64)
    m = np.zeros_like(x) if monetary is None else np.asarray(monetary, dtype=np.float64)
    if not (x.shape == t_x.shape == t.shape == m.shape) or x.ndim != 1:
        raise ClvFitError("frequency, recency, T and monetary must be 1-D and of one length.")
    if not np.all(np.isfinite(x) & np.isfinite(t_x) & np.isfinite(t) & np.isfinite(m)):
        raise ClvFitError("The customer summary holds a missing or infinite value.")
    if np.any(x < 0) or np.any(x != np.floor(x)):
        raise ClvFitError("frequency must be a whole number of repeat purchases, 0 or more.")
    if np.any(t_x < 0) or np.any(t_x > t + 1e-9):
        raise ClvFitError("recency must lie between 0 and T (the customer's age).")
    if np.any(m < 0):
        raise ClvFitError("monetary (mean spend) cannot be negative.")
    return Summary(frequency=x, recency=t_x, T=t, monetary=m)


def _distinct_counts(x: Array) -> tuple[Array, Array]:
    """The distinct whole-number frequencies and how many customers have each."""
    counts = np.bincount(x.astype(np.int64))
    values = np.flatnonzero(counts)
    return values.astype(np.float64), counts[values].astype(np.float64)


def _minimize(
    objective: Any, starts: list[Array], n_params: int
) -> tuple[Array, float, optimize.OptimizeResult]:
    """L-BFGS-B from each start until one converges inside the bounds; the best one wins."""
    bounds = [(-LOG_BOUND, LOG_BOUND)] * n_params
    with threadpool_limits(limits=1, user_api="blas"):
        return _minimize_starts(objective, starts, bounds)


def _minimize_starts(
    objective: Any, starts: list[Array], bounds: list[tuple[float, float]]
) -> tuple[Array, float, optimize.OptimizeResult]:
    best: optimize.OptimizeResult | None = None
    for start in starts:
        res = optimize.minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9},
        )
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best = res
        if best is not None and best.success and not _at_bound(best.x):
            break
    assert best is not None
    return best.x, float(best.fun), best


def _at_bound(log_params: Array) -> bool:
    return bool(np.any(np.abs(log_params) > LOG_RUNAWAY))


# --- BG/NBD --------------------------------------------------------------------------


def _bgnbd_terms(
    log_params: Array, x: Array, t_x: Array, t: Array
) -> tuple[Array, Array, Array, Array, NDArray[np.bool_]]:
    r, alpha, a, b = np.exp(log_params)
    repeat = x > 0
    log_alpha_t = np.log(alpha + t)
    log_alpha_tx = np.log(alpha + t_x)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x) - special.betaln(a, b)
    a3 = -(r + x) * log_alpha_t
    # The "died after the last purchase" term exists only for repeat customers.
    bx1 = np.where(repeat, b + x - 1, 1.0)
    a4 = np.where(repeat, np.log(a) - np.log(bx1) - (r + x) * log_alpha_tx, -np.inf)
    tail = np.logaddexp(a3, a4)
    return a1 + a2 + tail, a4 - tail, log_alpha_t, log_alpha_tx, repeat


def bgnbd_log_likelihood(
    params: BgNbdParams | tuple[float, float, float, float], summary: Summary
) -> Array:
    """Each customer's log-likelihood under BG/NBD."""
    r, alpha, a, b = (
        (params.r, params.alpha, params.a, params.b) if isinstance(params, BgNbdParams) else params
    )
    ll, *_ = _bgnbd_terms(np.log([r, alpha, a, b]), summary.frequency, summary.recency, summary.T)
    return ll


def fit_bgnbd(summary: Summary) -> BgNbdParams:
    """Maximum-likelihood r, alpha, a, b (time in the summary's unit, weeks here)."""
    n = len(summary)
    if n == 0:
        raise ClvFitError("No customer bought before the calibration end: nothing to fit.")
    if n < MIN_CUSTOMERS:
        raise ClvFitError(
            f"Only {n} customer(s) bought before the calibration end; the purchase model "
            f"needs at least {MIN_CUSTOMERS}."
        )
    if not np.any(summary.frequency > 0):
        raise ClvFitError(
            "No customer bought on a second day before the calibration end, so there is no "
            "repeat behaviour to learn from: choose a later calibration end or wait for "
            "more orders."
        )
    if not np.any(summary.T > 0):
        raise ClvFitError("Every customer's first purchase is on the calibration end day.")
    scale = 1.0 / float(np.max(summary.T))  # ages in (0, 1]
    x_all = summary.frequency
    # Terms in x alone (gammaln, digamma) are evaluated once per distinct frequency and
    # weighted by how many customers have it; only the time terms touch every customer.
    ux, counts = _distinct_counts(x_all)
    total = float(len(summary))
    sum_x = float(x_all.sum())
    rep = x_all > 0
    t0 = summary.T[~rep] * scale  # customers without a repeat purchase: only T matters
    xr = x_all[rep]
    txr = summary.recency[rep] * scale
    tr = summary.T[rep] * scale
    xr_minus_1 = xr - 1.0
    digamma, gammaln = special.digamma, special.gammaln

    def objective(theta: Array) -> tuple[float, Array]:
        r, alpha, a, b = np.exp(theta)
        log_alpha = np.log(alpha)
        # Per distinct frequency.
        ll_x = counts @ (gammaln(r + ux) + gammaln(b + ux) - gammaln(a + b + ux)) + total * (
            -gammaln(r) + r * log_alpha - gammaln(b) + gammaln(a + b)
        )
        d_ab = digamma(a + b) - digamma(a + b + ux)
        d_r_x = counts @ digamma(r + ux) + total * (log_alpha - digamma(r))
        d_a_x = counts @ d_ab
        d_b_x = counts @ (digamma(b + ux) - digamma(b) + d_ab)
        # No repeat purchase: alive all along, likelihood (alpha / (alpha + T))^r.
        log_a_t0 = np.log(alpha + t0)
        ll_0 = -r * log_a_t0.sum()
        # Repeat customers: alive at T, or dropped out right after the last purchase.
        log_a_t = np.log(alpha + tr)
        log_a_tx = np.log(alpha + txr)
        bx1 = b + xr_minus_1
        a3 = -(r + xr) * log_a_t
        a4 = np.log(a) - np.log(bx1) - (r + xr) * log_a_tx
        tail = np.logaddexp(a3, a4)
        w4 = np.exp(a4 - tail)  # the share of "dropped out after the last purchase"
        w3 = 1.0 - w4
        value = -float(ll_x + ll_0 + tail.sum()) / total
        if not np.isfinite(value):
            return 1e300, np.zeros(4)
        d_r = d_r_x - log_a_t0.sum() - (w3 @ log_a_t + w4 @ log_a_tx)
        d_alpha = (
            total * r / alpha
            - r * (1.0 / (alpha + t0)).sum()
            - (r + xr) @ (w3 / (alpha + tr) + w4 / (alpha + txr))
        )
        d_a = d_a_x + w4.sum() / a
        d_b = d_b_x - (w4 / bx1).sum()
        grad = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
        return value, -grad / total

    mean_x = sum_x / total
    mean_t = float(summary.T.mean()) * scale
    starts = [
        np.log([1.0, 1.0, 1.0, 1.0]),
        np.log([max(mean_x, 0.1), max(mean_t, 0.1), 0.5, 2.0]),
        np.log([0.3, 0.1, 2.0, 5.0]),
        np.log([3.0, 10.0, 0.2, 0.5]),
    ]
    theta, fun, res = _minimize(objective, starts, 4)
    _check(theta, res, "purchase (BG/NBD)")
    r, alpha, a, b = np.exp(theta)
    return BgNbdParams(
        r=float(r),
        alpha=float(alpha / scale),
        a=float(a),
        b=float(b),
        # Back to the summary's time unit: each likelihood scales by scale^x.
        log_likelihood=float(-fun * total + np.log(scale) * sum_x),
    )


def _check(theta: Array, res: optimize.OptimizeResult, what: str) -> None:
    if not np.all(np.isfinite(theta)) or not np.isfinite(res.fun):
        raise ClvFitError(f"The {what} fit produced no finite likelihood; the data look broken.")
    if _at_bound(theta):
        raise ClvFitError(
            f"The {what} model cannot be estimated from these customers (a parameter ran "
            "off to its limit): there are too few customers or too little variety in their "
            "purchases. Use a longer history or more customers."
        )
    if not res.success:
        raise ClvFitError(f"The {what} fit did not converge: {res.message}.")


def probability_alive(params: BgNbdParams, summary: Summary) -> Array:
    """P(still a customer at T) given the purchase history; 1 for no repeat purchase yet."""
    x, t_x, t = summary.frequency, summary.recency, summary.T
    repeat = x > 0
    log_odds_dead = np.where(
        repeat,
        np.log(params.a)
        - np.log(np.where(repeat, params.b + x - 1, 1.0))
        + (params.r + x) * (np.log(params.alpha + t) - np.log(params.alpha + t_x)),
        -np.inf,
    )
    return special.expit(-log_odds_dead)


def _expected_if_alive(params: BgNbdParams, x: Array, t: Array, weeks: float) -> Array:
    """E[repeat purchases in (T, T + weeks]] of a customer still alive at T: it depends
    on the frequency and T only (not on recency)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = weeks / (alpha + t + weeks)
    log_head = (r + x) * (np.log(alpha + t) - np.log(alpha + t + weeks))
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    result = (a + b + x - 1) / (a - 1) * (1.0 - np.exp(log_head) * hyp)
    # hyp2f1 overflows for customers with hundreds of purchases over a long horizon; the
    # ones it cannot evaluate get the alive customer's rate times the time instead.
    bad = ~np.isfinite(result)
    if np.any(bad):
        rate = (r + x) / (alpha + t) * (b + x - 1 + a) / (a + b + x - 1)
        result = np.where(bad, rate * weeks, result)
    return result


def expected_purchases(params: BgNbdParams, summary: Summary, weeks: float) -> Array:
    """E[repeat purchases in (T, T + weeks]] for each customer, given their history
    (Fader, Hardie & Lee 2005, eq. 10)."""
    alive = probability_alive(params, summary)
    expected = _expected_if_alive(params, summary.frequency, summary.T, float(weeks))
    return np.maximum(expected * alive, 0.0)


# --- Gamma-Gamma ---------------------------------------------------------------------


def _gg_terms(log_params: Array, x: Array, m: Array) -> Array:
    p, q, gamma = np.exp(log_params)
    px = p * x
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + x * m)
    )


def fit_gamma_gamma(summary: Summary) -> GammaGammaParams:
    """Maximum-likelihood p, q, gamma on the customers with a repeat purchase and a positive
    mean spend (others carry no information about spend per transaction)."""
    keep = (summary.frequency > 0) & (summary.monetary > 0)
    n = int(keep.sum())
    if n < MIN_REPEAT_CUSTOMERS:
        raise ClvFitError(
            f"Only {n} customer(s) bought again with a positive amount; the spend "
            f"(Gamma-Gamma) model needs at least {MIN_REPEAT_CUSTOMERS}."
        )
    m_all = summary.monetary[keep]
    if np.allclose(m_all, m_all[0]):
        raise ClvFitError(
            "Every repeat customer spends exactly the same per purchase, so the spend "
            "model has no variation to learn from."
        )
    scale = 1.0 / float(np.mean(m_all))
    x = summary.frequency[keep]
    m = m_all * scale
    ux, counts = _distinct_counts(x)
    total = float(n)
    log_ux = np.log(ux)
    log_m = np.log(m)
    # Sums that do not depend on the parameters: computed once.
    sum_log_m = float(log_m.sum())
    sum_x_log_m = float(x @ log_m)
    digamma, gammaln = special.digamma, special.gammaln

    def objective(theta: Array) -> tuple[float, Array]:
        p, q, gamma = np.exp(theta)
        pu = p * ux
        log_gxm = np.log(gamma + x * m)
        # Per distinct frequency: the gamma functions and p*x*log(x).
        ll = (
            counts @ (gammaln(pu + q) - gammaln(pu) + pu * log_ux)
            + total * (q * np.log(gamma) - gammaln(q))
            + p * sum_x_log_m
            - sum_log_m
            - (p * x + q) @ log_gxm
        )
        value = -float(ll) / total
        if not np.isfinite(value):
            return 1e300, np.zeros(3)
        common = digamma(pu + q)
        d_p = counts @ (ux * (common - digamma(pu) + log_ux)) + sum_x_log_m - x @ log_gxm
        d_q = counts @ common - total * digamma(q) + total * np.log(gamma) - log_gxm.sum()
        d_g = total * q / gamma - (p * x + q) @ (1.0 / (gamma + x * m))
        grad = np.array([d_p * p, d_q * q, d_g * gamma])
        return value, -grad / total

    starts = [np.log([1.0, 1.0, 1.0]), np.log([5.0, 3.0, 10.0]), np.log([0.5, 5.0, 2.0])]
    theta, fun, res = _minimize(objective, starts, 3)
    _check(theta, res, "spend (Gamma-Gamma)")
    p, q, gamma = np.exp(theta)
    # A density of m rescaled by `scale` is the original's divided by `scale`.
    return GammaGammaParams(
        p=float(p),
        q=float(q),
        gamma=float(gamma / scale),
        log_likelihood=float(-fun * total + np.log(scale) * total),
    )


def expected_spend(params: GammaGammaParams, summary: Summary) -> Array:
    """E[spend per purchase | history]: a weighted mean of the population mean p*gamma/(q-1)
    and the customer's own mean, weighted by how many repeat purchases they made."""
    p, q, gamma = params.p, params.q, params.gamma
    x, m = summary.frequency, summary.monetary
    if q <= 1:
        # The population mean spend is infinite for q <= 1: fall back to own means.
        return np.where(x > 0, m, float(np.mean(m[x > 0])) if np.any(x > 0) else 0.0)
    return (p * (gamma + x * m)) / (p * x + q - 1)


def customer_lifetime_value(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    summary: Summary,
    *,
    horizon_weeks: float,
    annual_discount_rate: float,
    step_weeks: float = WEEKS_PER_MONTH,
) -> Array:
    """Discounted expected revenue over the next `horizon_weeks`: the purchases expected
    in each step (a month by default; the last one may be shorter) times the expected
    spend per purchase, discounted at the annual rate to the end of that step (as
    lifetimes' customer_lifetime_value does with monthly steps)."""
    if horizon_weeks < 0:
        raise ClvFitError("The horizon cannot be negative.")
    if annual_discount_rate <= -1:
        raise ClvFitError("The discount rate must be above -100 %.")
    spend = expected_spend(gamma_gamma, summary)
    alive = probability_alive(bgnbd, summary)
    # hyp2f1 is the cost: evaluate it once per distinct (frequency, T). With ages in whole
    # days there are far fewer of those than customers.
    keys, inverse = np.unique(summary.frequency + 1j * summary.T, return_inverse=True)
    total = np.zeros(len(summary))
    previous = np.zeros(len(summary))
    edge = 0.0
    while edge < horizon_weeks - 1e-9:
        edge = min(edge + step_weeks, float(horizon_weeks))
        per_key = _expected_if_alive(bgnbd, keys.real, keys.imag, edge)
        cumulative = np.maximum(per_key[inverse.ravel()] * alive, 0.0)
        discount = (1.0 + annual_discount_rate) ** (edge / WEEKS_PER_YEAR)
        total += (cumulative - previous) * spend / discount
        previous = cumulative
    return total


@dataclass(frozen=True)
class ClvResult:
    bgnbd: BgNbdParams
    gamma_gamma: GammaGammaParams
    p_alive: Array
    expected_purchases: Array
    expected_spend: Array
    clv: Array


def fit_and_predict(
    summary: Summary, *, horizon_weeks: float, annual_discount_rate: float
) -> ClvResult:
    """Both fits and every per-customer prediction, in the order of `summary`."""
    bgnbd = fit_bgnbd(summary)
    gamma_gamma = fit_gamma_gamma(summary)
    result = ClvResult(
        bgnbd=bgnbd,
        gamma_gamma=gamma_gamma,
        p_alive=probability_alive(bgnbd, summary),
        expected_purchases=expected_purchases(bgnbd, summary, horizon_weeks),
        expected_spend=expected_spend(gamma_gamma, summary),
        clv=customer_lifetime_value(
            bgnbd,
            gamma_gamma,
            summary,
            horizon_weeks=horizon_weeks,
            annual_discount_rate=annual_discount_rate,
        ),
    )
    for name in ("p_alive", "expected_purchases", "expected_spend", "clv"):
        if not np.all(np.isfinite(getattr(result, name))):
            raise ClvFitError(f"The model gave a non-finite {name.replace('_', ' ')}.")
    return result
