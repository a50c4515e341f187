"""Next best offer: item-to-item co-occurrence recommendations from purchase histories.

Who bought what comes from the database as distinct (customer, product) pairs of orders
that bring revenue; everything after is sparse and dense NumPy/SciPy algebra, chunked by
customer, never a Python loop per customer:

- `together[x, y]` = customers who bought both x and y (X^T X of the binary customer x
  product matrix); pairs seen in fewer than `MIN_TOGETHER` customers are noise and drop.
- similarity = cosine, together / sqrt(buyers[x] · buyers[y]), so a best seller does not
  link to everything merely by being everywhere.
- a customer's score for y = the sum of y's similarities to what they own; owned products
  are excluded; the top 5 are kept, each explained by the owned product that contributes
  most ("bought X; of the 120 customers who bought X, 34 also bought Y").
- a customer whose history links to fewer than 5 products gets popular products to fill
  the list, marked as such (no "because").

`evaluate` checks the method offline on a time split: fitted on the orders before a
cut-off, does a top-5 list hold a product the customer bought for the first time after
it (hit rate at 5)? The popularity baseline (the 5 best sellers they do not own) is
measured on the same customers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from scipy import sparse

from rapport.analytics.models import Recommendation
from rapport.commerce.models import NON_REVENUE_STATUSES, OrderLine
from rapport.core import events, outbox, registry
from rapport.core.jobs import Progress, job_create, run_job
from rapport.core.models import Job

TOP_K = 5
MIN_TOGETHER = 2
CHUNK = 20_000  # customers scored at once: CHUNK x products floats in memory
# Popularity fills the lists' gaps: tiny next to any co-occurrence score.
POPULARITY_WEIGHT = 1e-6
RECOMMEND_JOB_KIND = "analytics.recommendations"
EVALUATE_JOB_KIND = "analytics.recommendations_evaluation"
RECOMMEND_EVENT = "recommendations.recomputed"

events.register(RECOMMEND_EVENT, "Every customer's next-best-offer list was recomputed.")


@dataclass
class Purchases:
    """The binary customer x product matrix and the ids behind its rows and columns."""

    customer_ids: np.ndarray
    product_ids: np.ndarray
    matrix: sparse.csr_matrix

    @property
    def empty(self) -> bool:
        return self.matrix.nnz == 0


@dataclass
class CoOccurrence:
    buyers: np.ndarray  # per product: customers who bought it
    together: np.ndarray  # product x product: customers who bought both (diagonal 0)
    similarity: np.ndarray  # product x product cosine, pairs under MIN_TOGETHER zeroed
    popularity: np.ndarray  # per product, in (0, 1]: the fill-in order


@dataclass
class Offers:
    """Per scored customer (rows of the purchases): the top products' column indices, their
    scores and the column of the owned product that explains each (-1: a popular fill)."""

    products: np.ndarray
    scores: np.ndarray
    because: np.ndarray


def load_purchases(
    *,
    before: dt.datetime | None = None,
    since: dt.datetime | None = None,
    customers: np.ndarray | None = None,
    products: np.ndarray | None = None,
) -> Purchases:
    """Distinct (customer, product) pairs of revenue orders in [since, before). Given
    `customers`/`products`, the matrix uses exactly those rows and columns (pairs outside
    them are dropped), so a training and a test matrix line up."""
    lines = OrderLine.objects.filter(product__isnull=False).exclude(
        order__status__in=NON_REVENUE_STATUSES
    )
    if before is not None:
        lines = lines.filter(order__ordered_at__lt=before)
    if since is not None:
        lines = lines.filter(order__ordered_at__gte=since)
    pairs = np.array(
        list(lines.values_list("order__customer_id", "product_id").distinct().order_by()),
        dtype=np.int64,
    ).reshape(-1, 2)
    customer_ids = np.unique(pairs[:, 0]) if customers is None else customers
    product_ids = np.unique(pairs[:, 1]) if products is None else products
    rows = np.searchsorted(customer_ids, pairs[:, 0])
    cols = np.searchsorted(product_ids, pairs[:, 1])
    keep = (rows < len(customer_ids)) & (cols < len(product_ids))
    keep[keep] &= (customer_ids[rows[keep]] == pairs[keep, 0]) & (
        product_ids[cols[keep]] == pairs[keep, 1]
    )
    matrix = sparse.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.float32), (rows[keep], cols[keep])),
        shape=(len(customer_ids), len(product_ids)),
    )
    return Purchases(customer_ids=customer_ids, product_ids=product_ids, matrix=matrix)


def fit(purchases: Purchases) -> CoOccurrence:
    """Co-occurrence counts and cosine similarities between products."""
    x = purchases.matrix
    buyers = np.asarray(x.sum(axis=0)).ravel()
    together = np.asarray((x.T @ x).todense(), dtype=np.float64)
    np.fill_diagonal(together, 0)
    norms = np.sqrt(np.outer(buyers, buyers))
    with np.errstate(divide="ignore", invalid="ignore"):
        similarity = np.where(norms > 0, together / norms, 0.0)
    similarity[together < MIN_TOGETHER] = 0.0
    peak = buyers.max() if len(buyers) else 0
    popularity = buyers / peak if peak else np.zeros_like(buyers)
    return CoOccurrence(
        buyers=buyers, together=together, similarity=similarity, popularity=popularity
    )


def _top(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    picked = np.take_along_axis(scores, top, axis=1)
    order = np.argsort(-picked, axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(picked, order, axis=1)


def recommend(
    model: CoOccurrence, owned: sparse.csr_matrix, *, k: int = TOP_K, popularity_only: bool = False
) -> Offers:
    """The top-k products each row of `owned` does not own, best first. Products owned or
    without any score are never offered (their score is -inf, and a shorter list results
    when a customer owns nearly everything)."""
    n_products = owned.shape[1]
    k = min(k, n_products)
    all_products, all_scores, all_because = [], [], []
    fill = POPULARITY_WEIGHT * model.popularity
    for start in range(0, owned.shape[0], CHUNK):
        chunk = owned[start : start + CHUNK]
        mask = chunk.toarray() > 0
        if popularity_only:
            scores = np.broadcast_to(fill, mask.shape).copy()
        else:
            scores = np.asarray(chunk @ model.similarity) + fill
        scores[mask] = -np.inf
        products, picked = _top(scores, k)
        because = np.full(products.shape, -1, dtype=np.int64)
        if not popularity_only:
            for j in range(products.shape[1]):
                # The owned product that contributes most to the j-th offer.
                links = np.where(mask, model.similarity[:, products[:, j]].T, 0.0)
                best = links.argmax(axis=1)
                found = links[np.arange(len(best)), best] > 0
                because[found, j] = best[found]
        all_products.append(products)
        all_scores.append(picked)
        all_because.append(because)
    if not all_products:
        empty = np.zeros((0, k), dtype=np.int64)
        return Offers(products=empty, scores=empty.astype(float), because=empty)
    return Offers(
        products=np.vstack(all_products),
        scores=np.vstack(all_scores),
        because=np.vstack(all_because),
    )


# --- storing every customer's list ---------------------------------------------------


@dataclass(frozen=True)
class RecommendRun:
    customers: int
    recommendations: int
    products: int


def refresh_all(*, progress: Progress | None = None) -> RecommendRun:
    """Rewrite every buyer's next-best-offer list from all purchases so far."""
    purchases = load_purchases()
    now = timezone.now()
    if purchases.empty:
        with transaction.atomic():
            Recommendation.objects.all().delete()
        return RecommendRun(customers=0, recommendations=0, products=0)
    model = fit(purchases)
    offers = recommend(model, purchases.matrix)
    if progress is not None:
        progress.set_total(len(purchases.customer_ids))
    written = 0
    with transaction.atomic():
        Recommendation.objects.all().delete()
        for start in range(0, len(purchases.customer_ids), CHUNK):
            batch = _rows(purchases, model, offers, start, now)
            Recommendation.objects.bulk_create(batch, batch_size=2000)
            written += len(batch)
            if progress is not None:
                done = min(CHUNK, len(purchases.customer_ids) - start)
                progress.advance(done, message=f"{written} recommendations")
        outbox.emit(
            RECOMMEND_EVENT,
            {"customers": len(purchases.customer_ids), "recommendations": written},
        )
    return RecommendRun(
        customers=len(purchases.customer_ids),
        recommendations=written,
        products=len(purchases.product_ids),
    )


def _rows(
    purchases: Purchases, model: CoOccurrence, offers: Offers, start: int, now: dt.datetime
) -> list[Recommendation]:
    stop = min(start + CHUNK, len(purchases.customer_ids))
    rows = []
    for i in range(start, stop):
        for rank, (col, score, because) in enumerate(
            zip(offers.products[i], offers.scores[i], offers.because[i], strict=True), start=1
        ):
            if not np.isfinite(score):
                break  # they own everything else
            linked = because >= 0
            rows.append(
                Recommendation(
                    customer_id=int(purchases.customer_ids[i]),
                    rank=rank,
                    product_id=int(purchases.product_ids[col]),
                    score=float(score),
                    because_id=int(purchases.product_ids[because]) if linked else None,
                    because_customers=int(model.buyers[because]) if linked else 0,
                    together=int(model.together[because, col]) if linked else 0,
                    computed_at=now,
                )
            )
    return rows


@transaction.atomic
def recommendations_refresh_start(*, actor: Any) -> Job:
    """Queue a recompute of every customer's next-best-offer list (administrators)."""
    if not getattr(actor, "is_admin", False):
        raise PermissionDenied("Only administrators may recompute recommendations.")
    job = job_create(owner=actor, kind=RECOMMEND_JOB_KIND, title="Recompute next best offers")
    transaction.on_commit(lambda: registry.enqueue("analytics.recommend_job", job_id=str(job.pk)))
    return job


def recommendations_scheduled() -> dict[str, Any]:
    job = job_create(owner=None, kind=RECOMMEND_JOB_KIND, title="Recompute next best offers")
    return run_job(job.pk, recommend_execute)


def recommend_execute(job: Job, progress: Progress) -> dict[str, Any]:
    run = refresh_all(progress=progress)
    return {"customers": run.customers, "recommendations": run.recommendations}


# --- offline evaluation --------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    cutoff: dt.datetime
    customers: int  # evaluated: bought before the cut-off and something new after it
    hit_rate: float  # co-occurrence, 0 to 1
    popularity_hit_rate: float
    k: int = TOP_K

    @property
    def beats_popularity(self) -> bool:
        return self.hit_rate > self.popularity_hit_rate

    def as_dict(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "k": self.k,
            "customers": self.customers,
            "hit_rate": round(self.hit_rate, 4),
            "popularity_hit_rate": round(self.popularity_hit_rate, 4),
            "beats_popularity": self.beats_popularity,
        }


def default_cutoff() -> dt.datetime:
    """A quarter before the last order: enough later purchases to test on."""
    last = OrderLine.objects.order_by("-order__ordered_at").values_list(
        "order__ordered_at", flat=True
    )[:1]
    end = last[0] if last else timezone.now()
    return end - dt.timedelta(days=90)


def evaluate(*, cutoff: dt.datetime | None = None, k: int = TOP_K) -> Evaluation:
    """Hit rate at k on a time split, for co-occurrence and for popularity."""
    cutoff = cutoff or default_cutoff()
    train = load_purchases(before=cutoff)
    if train.empty:
        raise ValidationError("No purchases before the cut-off: pick a later date.")
    test = load_purchases(since=cutoff, customers=train.customer_ids, products=train.product_ids)
    owned = train.matrix > 0
    new = (test.matrix > 0).astype(np.int8) - owned.multiply(test.matrix > 0).astype(np.int8)
    new = sparse.csr_matrix(new)
    new.eliminate_zeros()
    evaluated = np.flatnonzero(np.asarray(new.sum(axis=1)).ravel() > 0)
    if len(evaluated) == 0:
        raise ValidationError(
            "No customer bought a new product after the cut-off: pick an earlier date."
        )
    model = fit(train)
    owned_rows = train.matrix[evaluated]
    bought = new[evaluated]
    rates = []
    for popularity_only in (False, True):
        offers = recommend(model, owned_rows, k=k, popularity_only=popularity_only)
        rows = np.repeat(np.arange(len(evaluated)), offers.products.shape[1])
        offered = sparse.csr_matrix(
            (np.ones(offers.products.size), (rows, offers.products.ravel())), shape=bought.shape
        )
        hits = np.asarray(offered.multiply(bought).sum(axis=1)).ravel() > 0
        rates.append(float(hits.mean()))
    model_rate, popularity_rate = rates
    return Evaluation(
        cutoff=cutoff,
        customers=len(evaluated),
        hit_rate=model_rate,
        popularity_hit_rate=popularity_rate,
        k=k,
    )


@transaction.atomic
def recommendations_evaluate_start(*, actor: Any) -> Job:
    """Queue an offline evaluation on the default time split (administrators); its result
    holds both hit rates, which the recommendations page shows."""
    if not getattr(actor, "is_admin", False):
        raise PermissionDenied("Only administrators may evaluate recommendations.")
    job = job_create(owner=actor, kind=EVALUATE_JOB_KIND, title="Evaluate next best offers")
    transaction.on_commit(
        lambda: registry.enqueue("analytics.recommend_evaluate_job", job_id=str(job.pk))
    )
    return job


def evaluate_execute(job: Job, progress: Progress) -> dict[str, Any]:
    progress.set_total(1)
    try:
        result = evaluate().as_dict()
    except ValidationError as exc:
        result = {"error": " ".join(exc.messages)}
    progress.advance(1, message="Evaluated")
    return result
