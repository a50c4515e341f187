"""The churn model itself, free of the database: candidate estimators (gradient boosting
and logistic regression, each calibrated), the held-out metrics, global importance and
per-customer reasons.

Reasons are local deltas: for each feature, how much the customer's risk falls when that
one value is replaced by the typical (median) value of the training customers, all the
others kept. The three features whose typical value lowers the risk most are the
reasons. It works the same for both estimators and says what a person asks ("what makes
this customer riskier than usual?"); it is not a Shapley value (interactions between
features are not shared out), which the docs say.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import joblib
import numpy as np
from django.conf import settings
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

SEED = 16
# Below these the fit and the metrics are noise: the run says what is missing instead.
MIN_CUSTOMERS = 50
MIN_PER_CLASS = 10
IMPORTANCE_SAMPLE = 20_000
REASON_MIN_DELTA = 0.01  # a reason must move the risk by at least one point
EXPLAIN_FEATURES = 10


def threshold() -> float:
    """The risk at or above which a customer counts as flagged (setting CHURN_THRESHOLD)."""
    return float(getattr(settings, "CHURN_THRESHOLD", 0.5))


def threads() -> int:
    """OpenMP/BLAS threads for fits and predictions (setting CHURN_THREADS, default 1).
    Gradient boosting's OpenMP threads spin-wait: on a machine whose cores are busy with
    the web server and other tasks, all-core fits ran 10-15 times slower than one thread."""
    return int(getattr(settings, "CHURN_THREADS", 1))


def candidates() -> dict[str, Callable[[], Any]]:
    """Estimators tried on every training; the one with the better held-out AUC is kept.
    Sigmoid calibration on 3 folds: isotonic overfits the few hundred churners a small
    shop has. `ensemble=False`: one refitted model to score with, not three."""

    def boosting() -> Any:
        base = HistGradientBoostingClassifier(
            max_iter=150,
            learning_rate=0.06,
            max_leaf_nodes=15,
            min_samples_leaf=20,
            l2_regularization=1.0,
            random_state=SEED,
        )
        return CalibratedClassifierCV(base, method="sigmoid", cv=3, ensemble=False)

    def logistic() -> Any:
        base = Pipeline(
            [
                ("impute", SimpleImputer(strategy="median")),
                ("scale", StandardScaler()),
                ("model", LogisticRegression(C=1.0, max_iter=2000)),
            ]
        )
        return CalibratedClassifierCV(base, method="sigmoid", cv=3, ensemble=False)

    return {"gradient boosting": boosting, "logistic regression": logistic}


@dataclass
class Fitted:
    """A fitted estimator with what scoring needs besides it."""

    estimator: Any
    name: str
    names: tuple[str, ...]
    reference: np.ndarray  # each feature's median over the training customers
    # The features reasons are looked for in: those that matter on the held-out period
    # (positive permutation importance, at most EXPLAIN_FEATURES). Each costs one more
    # prediction per customer, and a feature the model ignores is nobody's reason.
    explain_columns: tuple[int, ...] | None = None

    def risk(self, X: np.ndarray) -> np.ndarray:
        with threadpool_limits(limits=threads()):
            return np.asarray(self.estimator.predict_proba(X)[:, 1], dtype=float)

    def dumps(self) -> bytes:
        buffer = io.BytesIO()
        joblib.dump(self, buffer, compress=3)
        return buffer.getvalue()

    @staticmethod
    def loads(blob: bytes) -> Fitted:
        # Only blobs this module wrote into the run table are ever loaded.
        fitted = joblib.load(io.BytesIO(bytes(blob)))
        if not isinstance(fitted, Fitted):
            raise TypeError("not a churn model")
        return fitted


def insufficient(y: np.ndarray) -> str:
    """Why `y` cannot train or evaluate a model, or "" when it can."""
    n, churned = len(y), int(np.sum(y))
    retained = n - churned
    if n < MIN_CUSTOMERS or churned < MIN_PER_CLASS or retained < MIN_PER_CLASS:
        return (
            f"needs at least {MIN_CUSTOMERS} active customers with {MIN_PER_CLASS} churned and "
            f"{MIN_PER_CLASS} retained; had {n} with {churned} churned and {retained} retained"
        )
    return ""


def fit(name: str, X: np.ndarray, y: np.ndarray, names: tuple[str, ...]) -> Fitted:
    estimator = candidates()[name]()
    with threadpool_limits(limits=threads()):
        estimator.fit(X, y)
    with np.errstate(all="ignore"):
        reference = np.nan_to_num(np.nanmedian(X, axis=0)) if len(X) else np.zeros(X.shape[1])
    return Fitted(estimator=estimator, name=name, names=names, reference=reference)


def explain_columns(names: tuple[str, ...], importance: list[dict[str, Any]]) -> tuple[int, ...]:
    """The columns worth explaining: positive held-out importance, most important first."""
    index = {name: i for i, name in enumerate(names)}
    useful = [row["feature"] for row in importance if row["auc_drop"] > 0]
    return tuple(index[name] for name in useful[:EXPLAIN_FEATURES] if name in index)


def evaluate(
    fitted: Fitted, X: np.ndarray, y: np.ndarray, *, importance: bool = True
) -> dict[str, Any]:
    """Held-out metrics: ROC AUC, average precision, precision/recall at the threshold and
    on a grid of thresholds, calibration in ten bins and (unless asked not to)
    permutation importance (AUC lost)."""
    p = fitted.risk(X)
    cut = threshold()
    flagged = p >= cut
    churned = y == 1
    metrics: dict[str, Any] = {
        "roc_auc": float(roc_auc_score(y, p)),
        "average_precision": float(average_precision_score(y, p)),
        "base_rate": float(np.mean(y)),
        "threshold": cut,
        "precision": _ratio(np.sum(flagged & churned), np.sum(flagged)),
        "recall": _ratio(np.sum(flagged & churned), np.sum(churned)),
        "flagged": int(np.sum(flagged)),
        "pr_curve": [
            {
                "threshold": t,
                "precision": _ratio(np.sum((p >= t) & churned), np.sum(p >= t)),
                "recall": _ratio(np.sum((p >= t) & churned), np.sum(churned)),
                "flagged": int(np.sum(p >= t)),
            }
            for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
        ],
        "calibration": _calibration(p, y),
    }
    if importance:
        metrics["importance"] = _importance(fitted, X, y)
    return metrics


def _ratio(a: Any, b: Any) -> float | None:
    return float(a) / float(b) if b else None


def _calibration(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        count = int(np.sum(mask))
        rows.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": count,
                "predicted": float(np.mean(p[mask])) if count else None,
                "observed": float(np.mean(y[mask])) if count else None,
            }
        )
    return rows


def _importance(fitted: Fitted, X: np.ndarray, y: np.ndarray) -> list[dict[str, Any]]:
    """Permutation importance on the held-out customers (a sample of them past 20,000):
    how much ROC AUC drops when one feature's values are shuffled."""
    if len(X) > IMPORTANCE_SAMPLE:
        rows = np.random.default_rng(SEED).choice(len(X), IMPORTANCE_SAMPLE, replace=False)
        X, y = X[rows], y[rows]
    with threadpool_limits(limits=threads()):
        result = permutation_importance(
            fitted.estimator, X, y, scoring="roc_auc", n_repeats=3, random_state=SEED
        )
    ranked = sorted(
        zip(fitted.names, result.importances_mean, strict=True), key=lambda t: -float(t[1])
    )
    return [{"feature": name, "auc_drop": float(drop)} for name, drop in ranked]


def explain(
    fitted: Fitted, X: np.ndarray, *, top: int = 3
) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
    """Risk per row and its top reasons: [{"feature", "value", "delta"}], the features whose
    typical value would lower the risk the most (by at least REASON_MIN_DELTA)."""
    n, width = X.shape
    p = fitted.risk(X)
    if n == 0:
        return p, []
    columns = list(fitted.explain_columns or range(width))
    k = len(columns)
    # All "one feature set to typical" variants in one predict call.
    variants = np.repeat(X[np.newaxis, :, :], k, axis=0)
    for v, j in enumerate(columns):
        variants[v, :, j] = fitted.reference[j]
    p_typical = fitted.risk(variants.reshape(k * n, width)).reshape(k, n)
    deltas = p[np.newaxis, :] - p_typical  # (features, rows): > 0 raises the risk
    order = np.argsort(-deltas, axis=0)[:top]
    reasons: list[list[dict[str, Any]]] = []
    for i in range(n):
        row = []
        for v in order[:, i]:
            j = columns[v]
            delta = float(deltas[v, i])
            if delta < REASON_MIN_DELTA:
                break
            value = float(X[i, j])
            row.append(
                {
                    "feature": fitted.names[j],
                    "value": None if np.isnan(value) else round(value, 2),
                    "delta": round(delta, 4),
                }
            )
        reasons.append(row)
    return p, reasons
