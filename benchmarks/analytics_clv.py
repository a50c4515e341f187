"""Fit BG/NBD and Gamma-Gamma on N synthetic customers with Rapport's fitter and with the
`lifetimes` library, side by side, and print both times and both sets of parameters.

The customers are drawn from the models' own generative processes (BG/NBD: gamma
purchase rates, beta dropout after each repeat purchase, ages spread over a year and a
half; Gamma-Gamma: gamma spend per purchase around a gamma-distributed mean), seeded,
so both fitters see the same data and should recover the true parameters.

`lifetimes` is unmaintained and pins nothing that fits our lock, so it runs in its own
interpreter: pass `--lifetimes-python` with a venv that has it (the data goes over as
an .npz file). Without it only our times are printed.

    uv venv /tmp/lt && uv pip install --python /tmp/lt/bin/python lifetimes==0.11.3 "setuptools<81"
    .venv/bin/python -m benchmarks.analytics_clv --customers 1000000 \
        --lifetimes-python /tmp/lt/bin/python
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rapport.analytics.clv import fitting

TRUE = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "p": 6.25, "q": 3.74, "gamma": 15.44}

LIFETIMES_SCRIPT = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np
from lifetimes import BetaGeoFitter, GammaGammaFitter
d = np.load(sys.argv[1])
t0 = time.perf_counter()
bg = BetaGeoFitter()
bg.fit(d["frequency"], d["recency"], d["T"])
t1 = time.perf_counter()
keep = d["frequency"] > 0
gg = GammaGammaFitter()
gg.fit(d["frequency"][keep], d["monetary"][keep])
t2 = time.perf_counter()
print(json.dumps({
    "bgnbd_seconds": t1 - t0, "gamma_gamma_seconds": t2 - t1,
    "r": bg.params_["r"], "alpha": bg.params_["alpha"], "a": bg.params_["a"],
    "b": bg.params_["b"], "p": gg.params_["p"], "q": gg.params_["q"], "gamma": gg.params_["v"],
}))
"""


def synthetic(n: int, seed: int = 2026) -> fitting.Summary:
    """N customers from BG/NBD and Gamma-Gamma with CDNOW's published parameters."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(1.0, 78.0, n)  # weeks since the first purchase
    lam = rng.gamma(TRUE["r"], 1.0 / TRUE["alpha"], n)
    p = rng.beta(TRUE["a"], TRUE["b"], n)
    # Repeat purchases before dropping out (the customer may drop after each one) and
    # those the Poisson process fits into T; the customer makes the smaller number.
    until_dropout = rng.geometric(p)
    in_window = rng.poisson(lam * T)
    x = np.minimum(until_dropout, in_window)
    # Given n arrivals uniform on (0, T], the x-th of them is T times a Beta(x, n-x+1).
    t_x = np.zeros(n)
    some = x > 0
    t_x[some] = T[some] * rng.beta(x[some], in_window[some] - x[some] + 1)
    nu = rng.gamma(TRUE["q"], 1.0 / TRUE["gamma"], n)  # each customer's spend rate
    # The mean of x gamma(p, nu) spends is gamma(p*x, x*nu).
    monetary = np.zeros(n)
    monetary[some] = rng.gamma(TRUE["p"] * x[some], 1.0 / (nu[some] * x[some]))
    return fitting.as_summary(x, t_x, T, monetary)


def ours(s: fitting.Summary) -> dict[str, float]:
    t0 = time.perf_counter()
    bg = fitting.fit_bgnbd(s)
    t1 = time.perf_counter()
    gg = fitting.fit_gamma_gamma(s)
    t2 = time.perf_counter()
    fitting.customer_lifetime_value(bg, gg, s, horizon_weeks=52, annual_discount_rate=0.1)
    t3 = time.perf_counter()
    return {
        "bgnbd_seconds": t1 - t0,
        "gamma_gamma_seconds": t2 - t1,
        "clv_seconds": t3 - t2,
        "r": bg.r,
        "alpha": bg.alpha,
        "a": bg.a,
        "b": bg.b,
        "p": gg.p,
        "q": gg.q,
        "gamma": gg.gamma,
    }


def run_lifetimes(python: str, s: fitting.Summary) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "customers.npz"
        np.savez(data, frequency=s.frequency, recency=s.recency, T=s.T, monetary=s.monetary)
        done = subprocess.run(
            [python, "-c", LIFETIMES_SCRIPT, str(data)],
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--lifetimes-python", default="")
    args = parser.parse_args()

    t = time.perf_counter()
    s = synthetic(args.customers)
    print(
        f"{args.customers:,} synthetic customers ({int((s.frequency > 0).sum()):,} repeat) "
        f"drawn in {time.perf_counter() - t:.1f} s"
    )
    results = {"rapport": ours(s)}
    if args.lifetimes_python:
        results["lifetimes"] = run_lifetimes(args.lifetimes_python, s)
    names = list(results)
    print(f"{'':<22}" + "".join(f"{n:>14}" for n in names) + f"{'true':>10}")
    for key, label in (
        ("bgnbd_seconds", "BG/NBD fit (s)"),
        ("gamma_gamma_seconds", "Gamma-Gamma fit (s)"),
    ):
        print(f"{label:<22}" + "".join(f"{results[n][key]:>14.2f}" for n in names))
    total = {n: results[n]["bgnbd_seconds"] + results[n]["gamma_gamma_seconds"] for n in names}
    print(f"{'both fits (s)':<22}" + "".join(f"{total[n]:>14.2f}" for n in names))
    print(f"{'CLV, 52 weeks (s)':<22}{results['rapport']['clv_seconds']:>14.2f}")
    for key in ("r", "alpha", "a", "b", "p", "q", "gamma"):
        print(
            f"{key:<22}"
            + "".join(f"{results[n][key]:>14.4f}" for n in names)
            + f"{TRUE[key]:>10.3f}"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
