"""The duplicate detection engine: a Fellegi-Sunter model (Splink on embedded DuckDB)
over the person records, trained by EM on the data itself, scoring blocked candidate
pairs and clustering them into groups.

The engine knows nothing about Django models beyond reading rows (`loader.py`) and is
driven by `services/detection.py`; everything here works on pandas frames so that the FEBRL and
scale benchmarks exercise exactly the code production runs. See docs/data-quality.md.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import jellyfish
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.internals.clustering import cluster_pairwise_predictions_at_threshold
from splink.internals.exceptions import EMTrainingException

logger = logging.getLogger(__name__)

# 2: λ from the model's recall, FEBRL blocking and levels; 3: fitted to the columns held
ENGINE_VERSION = 3
DEFAULT_THRESHOLD = 0.9
# Pairs at or above this probability are kept for review; those above the run threshold
# also form clusters. Lower than the default threshold so the queue shows near misses.
REVIEW_THRESHOLD = 0.5
# EM and u-sampling budgets: bounded so that training time does not grow with the table.
U_MAX_PAIRS = 1_000_000
EM_MAX_PAIRS = 500_000

# The raw columns the loader provides (one row per person, primary address flattened).
RAW_COLUMNS = [
    "unique_id",
    "external_id",
    "first_name",
    "last_name",
    "birth_date",
    "email",
    "phone",
    "line1",
    "line2",
    "postcode",
    "city",
    "region",
]

ProgressCallback = Callable[[str, int], None]


def _noop_progress(step: str, pct: int) -> None:
    return None


# ---------------------------------------------------------------------------------------
# Derived columns
# ---------------------------------------------------------------------------------------

_NOT_LETTERS = re.compile(r"[^a-z ]+")
_NOT_ALNUM = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")


def fold(value: Any, *, keep_digits: bool = False) -> str | None:
    """Lower case, accents stripped, punctuation dropped, spaces collapsed; None if empty."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = unicodedata.normalize("NFKD", str(value))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = (_NOT_ALNUM if keep_digits else _NOT_LETTERS).sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    return text or None


def metaphone(value: str | None) -> str | None:
    if not value:
        return None
    return jellyfish.metaphone(value.replace(" ", "")) or None


def phone_key(value: Any) -> str | None:
    """The last nine digits: the same for +61 3 5995 4258, 03 5995 4258 and 0359954258."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    digits = re.sub(r"\D", "", str(value))
    if len(digits) < 6:
        return None
    return digits[-9:]


def _fold_sql(column: str, *, keep_digits: bool = False) -> str:
    """SQL twin of `fold`: lower case, accents stripped, punctuation to spaces, trimmed."""
    keep = "a-z0-9 " if keep_digits else "a-z "
    return (
        f"nullif(trim(regexp_replace(regexp_replace(strip_accents(lower(coalesce({column}, ''))),"
        f" '[^{keep}]+', ' ', 'g'), '\\s+', ' ', 'g')), '')"
    )


# Built from constant column names only: no user input reaches this SQL.
_PREPARE_SQL = f"""
with folded as (
    select
        unique_id,
        external_id,
        {_fold_sql("first_name")} as first_name,
        {_fold_sql("last_name")} as last_name,
        {_fold_sql("city")} as city,
        {_fold_sql("region")} as region,
        birth_date,
        nullif(lower(trim(coalesce(email, ''))), '') as email,
        regexp_replace(coalesce(phone, ''), '[^0-9]', '', 'g') as phone_digits,
        {_fold_sql("line1", keep_digits=True)} as address,
        {_fold_sql("line2", keep_digits=True)} as address2,
        {_fold_sql("concat_ws(' ', line1, line2)", keep_digits=True)} as address_all,
        nullif(upper(regexp_replace(coalesce(postcode, ''), '\\s', '', 'g')), '') as postcode
    from raw
)
select
    f.unique_id,
    f.external_id,
    f.first_name,
    f.last_name,
    fm.mp as first_name_mp,
    lm.mp as last_name_mp,
    case when f.first_name is not null and f.last_name is not null
         then f.first_name || ' ' || f.last_name end as full_name,
    case when fm.mp is not null and lm.mp is not null then least(fm.mp, lm.mp) end
        as name_lo_mp,
    case when fm.mp is not null and lm.mp is not null then greatest(fm.mp, lm.mp) end
        as name_hi_mp,
    left(f.first_name, 1) as first_initial,
    left(f.last_name, 1) as last_initial,
    -- Both initials in sorted order: the same when given and family name are swapped.
    case when f.first_name is not null and f.last_name is not null
         then least(left(f.first_name, 1), left(f.last_name, 1))
              || greatest(left(f.first_name, 1), left(f.last_name, 1)) end as initials,
    strftime(f.birth_date, '%Y-%m-%d') as birth_date,
    strftime(f.birth_date, '%Y') as birth_year,
    strftime(f.birth_date, '%Y-%m') as birth_ym,
    f.email,
    nullif(replace(regexp_replace(split_part(f.email, '@', 1), '\\+.*$', ''), '.', ''), '')
        as email_local,
    case when length(f.phone_digits) >= 6 then right(f.phone_digits, 9) end as phone,
    f.address,
    f.address2,
    -- The house number (first number in either line) and the street without it: they
    -- survive the street and the building or locality being typed into the wrong line.
    nullif(regexp_extract(f.address_all, '\\b([0-9]+)\\b', 1), '') as street_number,
    nullif(trim(regexp_replace(coalesce(f.address, ''), '[0-9]+', '', 'g')), '') as street,
    -- Both address lines as one sorted bag of words: "26 chant street" + "durraween" and
    -- "26 durraween" + "chant street" (lines mixed up) compare as near-equal.
    case when f.address_all is not null
         then array_to_string(list_sort(string_split(f.address_all, ' ')), ' ') end
        as address_key,
    f.postcode,
    f.city,
    f.region
from folded f
left join metaphones fm on fm.name = f.first_name
left join metaphones lm on lm.name = f.last_name
"""  # noqa: S608

_RAW_TEXT = [
    "external_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "line1",
    "line2",
    "postcode",
    "city",
    "region",
]


def prepare(raw: pd.DataFrame) -> pa.Table:
    """The model's input: normalised and derived columns (NULL when missing), computed by
    DuckDB in bulk; only the metaphone codes are computed in Python, once per distinct
    name."""
    source = pd.DataFrame({"unique_id": raw["unique_id"].astype("int64")})
    for column in _RAW_TEXT:
        source[column] = raw[column].astype("string")
    source["birth_date"] = pd.to_datetime(raw["birth_date"], errors="coerce")
    con = duckdb.connect(":memory:")
    con.register("raw", source)
    names = con.sql(
        f"select distinct n from (select {_fold_sql('first_name')} as n from raw union all "  # noqa: S608
        f"select {_fold_sql('last_name')} from raw) where n is not null"
    ).fetchall()
    metaphones = pd.DataFrame(
        {"name": [n for (n,) in names], "mp": [metaphone(n) for (n,) in names]},
        dtype="string",
    )
    con.register("metaphones", metaphones)
    table = con.sql(_PREPARE_SQL).to_arrow_table()
    con.close()
    return table


# ---------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------

# Candidate pairs: a pair is scored when it agrees on at least one of these. Each rule
# is selective enough for a million records (see docs/data-quality.md for the sizes).
# Each is kept with the columns it reads, so that rules on columns the data does not hold
# (no birth dates, no phones) are left out of a run instead of costing a join for nothing.
_SWAPPED_NAMES = "l.first_name = r.last_name and l.last_name = r.first_name"
PREDICTION_RULES: list[tuple[tuple[str, ...], Any]] = [
    (cols, block_on(*cols)) if rule is None else (cols, rule)
    for cols, rule in [
        (("email",), None),
        (("phone",), None),
        # With the first initial: last-name sound and birth year alone made the largest
        # blocks of all (most of the candidate pairs at a million records).
        (("last_name_mp", "first_initial", "birth_year"), None),
        (("first_name_mp", "birth_date"), None),
        (("initials", "postcode"), None),
        (("first_name", "last_name"), None),
        (("address", "postcode"), None),
        (("last_name", "city"), None),
        (("birth_date", "postcode"), None),
        (("birth_date", "city"), None),
        (("birth_date", "last_initial"), None),
        (("address", "first_initial"), None),
        (("address", "last_initial"), None),
        # Given and family name swapped (a classic data-entry error).
        (("first_name", "last_name"), _SWAPPED_NAMES),
        # Sounds-alike in either order: swapped names with a typo.
        (("name_lo_mp", "name_hi_mp"), None),
        (("address", "city"), None),
        (("address_key", "postcode"), None),
        # Reaching copies whose names or address lines changed (a new surname, swapped
        # names with a typo, the building in the street line): house number, birth date,
        # second line and one name each with a place.
        (("street_number", "postcode"), None),
        (("street_number", "birth_date"), None),
        (("street_number", "city", "initials"), None),
        (("initials", "birth_date"), None),
        (("address2", "postcode"), None),
        (("last_name", "postcode"), None),
        (("first_name", "postcode"), None),
    ]
]
PREDICTION_BLOCKING_RULES: list[Any] = [rule for _cols, rule in PREDICTION_RULES]

# EM runs once per rule; each leaves the comparison it blocks on untrained, so together
# they must train every comparison. The first three are the usual ones; the e-mail and
# phone rules stand in when the data lacks birth dates, names or addresses (see `plan`).
TRAINING_RULES: list[tuple[tuple[str, ...], str]] = [
    (("birth_date",), "birth_date"),
    (("last_name_mp", "first_name_mp"), "name"),
    (("postcode", "address"), "location"),
    (("email",), "email"),
    (("phone",), "phone"),
]
TRAINING_BLOCKING_RULES = [block_on(*cols) for cols, _blocked in TRAINING_RULES[:3]]

# The prepared columns each comparison reads: a comparison is part of the model only when
# at least MIN_FILL of the records have one of them.
COMPARISON_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("first_name", "last_name"),
    "birth_date": ("birth_date",),
    "email": ("email",),
    "phone": ("phone",),
    "location": ("address", "postcode", "city"),
    "address2": ("address2",),
}
COMPARISON_LABELS = {
    "name": "names",
    "birth_date": "birth dates",
    "email": "e-mail addresses",
    "phone": "phone numbers",
    "location": "addresses",
    "address2": "second address lines",
}
MIN_FILL = 0.01
# A training block must find at least this many pairs (Splink's EM fails on none). Kept
# at one: small data sets (a few dozen records) train on a handful of pairs and did so
# before the blocks were chosen per data set.
MIN_TRAINING_PAIRS = 1


def _jw(left: str, right: str, threshold: float) -> str:
    return f"jaro_winkler_similarity({left}, {right}) >= {threshold}"


def _name_comparison() -> cl.CustomComparison:
    first, last = "first_name", "last_name"
    return cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.And(cll.NullLevel(first), cll.NullLevel(last)),
            cll.ExactMatchLevel("full_name").configure(tf_adjustment_column="full_name"),
            cll.ColumnsReversedLevel(first, last).configure(label_for_charts="names swapped"),
            cll.And(cll.JaroWinklerLevel(first, 0.92), cll.JaroWinklerLevel(last, 0.92)),
            cll.CustomLevel(
                f"{_jw(f'{first}_l', f'{last}_r', 0.88)} and "
                f"{_jw(f'{last}_l', f'{first}_r', 0.88)}",
                label_for_charts="names swapped, with typos",
            ),
            cll.And(cll.JaroWinklerLevel(first, 0.8), cll.JaroWinklerLevel(last, 0.8)),
            cll.And(cll.ExactMatchLevel("first_name_mp"), cll.ExactMatchLevel("last_name_mp")),
            cll.And(cll.JaroWinklerLevel(last, 0.92), cll.ExactMatchLevel("first_initial")),
            cll.CustomLevel(
                f"(({first}_l is null or {first}_r is null) and "
                f"{_jw(f'{last}_l', f'{last}_r', 0.92)}) or "
                f"(({last}_l is null or {last}_r is null) and "
                f"{_jw(f'{first}_l', f'{first}_r', 0.92)})",
                label_for_charts="one name missing, the other close",
            ),
            cll.JaroWinklerLevel(last, 0.92).configure(label_for_charts="last name close"),
            cll.JaroWinklerLevel(first, 0.92).configure(label_for_charts="first name close"),
            cll.CustomLevel(
                f"{_jw(f'{first}_l', f'{last}_r', 0.92)} or {_jw(f'{last}_l', f'{first}_r', 0.92)}",
                label_for_charts="one name in the other's place",
            ),
            cll.ElseLevel(),
        ],
    )


def _birth_date_comparison() -> cl.CustomComparison:
    col = "birth_date"
    return cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel(col),
            cll.ExactMatchLevel(col),
            cll.DamerauLevenshteinLevel(col, 1).configure(label_for_charts="one typo"),
            cll.CustomLevel(
                f"substr({col}_l, 1, 4) = substr({col}_r, 1, 4)"
                f" and substr({col}_l, 6, 2) = substr({col}_r, 9, 2)"
                f" and substr({col}_l, 9, 2) = substr({col}_r, 6, 2)",
                label_for_charts="day and month swapped",
            ),
            cll.DamerauLevenshteinLevel(col, 2).configure(label_for_charts="two typos"),
            cll.ExactMatchLevel("birth_ym").configure(label_for_charts="same year and month"),
            cll.ExactMatchLevel("birth_year").configure(label_for_charts="same year"),
            cll.ElseLevel(),
        ],
    )


def _string_comparison(
    col: str, thresholds: list[float], *, tf: bool = False
) -> cl.CustomComparison:
    exact: Any = cll.ExactMatchLevel(col)
    if tf:
        exact = exact.configure(tf_adjustment_column=col)
    levels: list[Any] = [cll.NullLevel(col), exact]
    levels += [cll.JaroWinklerLevel(col, t) for t in thresholds]
    levels.append(cll.ElseLevel())
    return cl.CustomComparison(output_column_name=col, comparison_levels=levels)


def _typo_comparison(col: str) -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name=col,
        comparison_levels=[
            cll.NullLevel(col),
            cll.ExactMatchLevel(col),
            cll.DamerauLevenshteinLevel(col, 1).configure(label_for_charts="one typo"),
            cll.ElseLevel(),
        ],
    )


# The street typed in one record's first line and the other's second line.
_LINES_CROSSED = f"{_jw('street_l', 'address2_r', 0.9)} or {_jw('address2_l', 'street_r', 0.9)}"


def _location_comparison() -> cl.CustomComparison:
    """Street address, postcode and city as ONE comparison: they agree together far more
    often than independence assumes, and counting them three times pairs up everyone
    living at one address (household members)."""
    address, postcode, city = "address", "postcode", "city"
    return cl.CustomComparison(
        output_column_name="location",
        comparison_levels=[
            cll.And(cll.NullLevel(address), cll.NullLevel(postcode), cll.NullLevel(city)),
            cll.And(
                cll.ExactMatchLevel(address),
                cll.ExactMatchLevel(postcode),
                cll.ExactMatchLevel(city),
            ).configure(label_for_charts="same address, postcode and city"),
            cll.And(
                cll.ExactMatchLevel(address),
                cll.Or(cll.ExactMatchLevel(postcode), cll.ExactMatchLevel(city)),
            ).configure(label_for_charts="same address"),
            cll.And(
                cll.JaroWinklerLevel(address, 0.92),
                cll.Or(cll.DamerauLevenshteinLevel(postcode, 1), cll.JaroWinklerLevel(city, 0.9)),
            ).configure(label_for_charts="address nearly the same"),
            cll.And(
                cll.JaroWinklerLevel(address, 0.8),
                cll.Or(cll.DamerauLevenshteinLevel(postcode, 1), cll.JaroWinklerLevel(city, 0.9)),
            ).configure(label_for_charts="street similar, same area"),
            cll.JaroWinklerLevel(address, 0.92).configure(
                label_for_charts="address nearly the same, other area"
            ),
            cll.JaroWinklerLevel(address, 0.8).configure(label_for_charts="street similar"),
            cll.JaroWinklerLevel("address_key", 0.9).configure(
                label_for_charts="same words, address lines mixed up"
            ),
            cll.CustomLevel(
                f"street_number_l = street_number_r and ({_LINES_CROSSED})",
                label_for_charts="same house number, street in the other line",
            ),
            cll.And(cll.ExactMatchLevel(postcode), cll.ExactMatchLevel(city)).configure(
                label_for_charts="same postcode and city"
            ),
            cll.And(
                cll.DamerauLevenshteinLevel(postcode, 1), cll.JaroWinklerLevel(city, 0.9)
            ).configure(label_for_charts="postcode and city nearly the same"),
            cll.Or(cll.ExactMatchLevel(postcode), cll.JaroWinklerLevel(city, 0.9)).configure(
                label_for_charts="same postcode or city"
            ),
            cll.ElseLevel(),
        ],
    )


def _address2_comparison() -> cl.CustomComparison:
    """The second address line (building, locality). When the two lines are mixed up the
    location comparison already scores the address; here that case is its own level so it
    is not also counted as a disagreement."""
    col = "address2"
    return cl.CustomComparison(
        output_column_name=col,
        comparison_levels=[
            cll.NullLevel(col),
            cll.ExactMatchLevel(col),
            cll.JaroWinklerLevel(col, 0.9),
            cll.Or(
                cll.JaroWinklerLevel("address_key", 0.9), cll.CustomLevel(_LINES_CROSSED)
            ).configure(label_for_charts="address lines mixed up"),
            cll.ElseLevel(),
        ],
    )


def _comparison(name: str) -> cl.CustomComparison | cl.EmailComparison:
    if name == "name":
        return _name_comparison()
    if name == "birth_date":
        return _birth_date_comparison()
    if name == "email":
        return cl.EmailComparison("email")
    if name == "phone":
        return _typo_comparison("phone")
    if name == "location":
        return _location_comparison()
    return _address2_comparison()


def model_settings(plan: ModelPlan | None = None) -> SettingsCreator:
    """The model; with a plan, only the comparisons and blocking rules its data can use."""
    comparisons = plan.comparisons if plan else list(COMPARISON_COLUMNS)
    rules = plan.prediction_rules if plan else PREDICTION_BLOCKING_RULES
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[_comparison(name) for name in comparisons],
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
        additional_columns_to_retain=[],
    )


# ---------------------------------------------------------------------------------------
# Fitting the model to the columns the data has
# ---------------------------------------------------------------------------------------


class CannotTrain(Exception):
    """The data gives EM nothing to learn from; the message says why, in words for the
    duplicates page (not a traceback)."""


@dataclass
class ModelPlan:
    """What a run can use on this data: filled shares per column, the comparisons kept,
    the EM training rules and the candidate (prediction) rules."""

    records: int
    fill: dict[str, float]
    comparisons: list[str]
    training_rules: list[tuple[str, ...]]
    prediction_rules: list[Any]
    left_out: dict[str, str]  # comparison -> why it is not in the model

    def summary(self) -> dict[str, Any]:
        return {
            "fill": {k: round(v, 4) for k, v in self.fill.items()},
            "comparisons": self.comparisons,
            "training_rules": [list(r) for r in self.training_rules],
            "left_out": self.left_out,
        }


_PLAN_COLUMNS = sorted(
    {c for cols in COMPARISON_COLUMNS.values() for c in cols}
    | {c for cols, _rule in PREDICTION_RULES for c in cols}
    | {c for cols, _blocked in TRAINING_RULES for c in cols}
    | {"full_name"}
)


def column_fill(con: duckdb.DuckDBPyConnection, table: str = "prepared") -> dict[str, float]:
    """Share of records with a value in each column the model can use: one DuckDB scan."""
    counts = ", ".join(f"count({c})" for c in _PLAN_COLUMNS)
    row = con.execute(f"select count(*), {counts} from {table}").fetchone()  # noqa: S608
    assert row is not None
    total = max(int(row[0]), 1)
    return {c: int(n) / total for c, n in zip(_PLAN_COLUMNS, row[1:], strict=True)}


def _pairs_on(con: duckdb.DuckDBPyConnection, columns: tuple[str, ...], table: str) -> int:
    """Exact number of record pairs that agree on every one of `columns` (none null)."""
    cols = ", ".join(columns)
    filled = " and ".join(f"{c} is not null" for c in columns)
    row = con.execute(
        f"select coalesce(sum(n * (n - 1) / 2), 0) from "  # noqa: S608
        f"(select count(*) as n from {table} where {filled} group by {cols})"
    ).fetchone()
    return int(row[0]) if row else 0


def plan(prepared: pa.Table) -> ModelPlan:
    """Adapt the model to the columns that hold data.

    A CRM may hold no birth dates, no phones or no addresses. A comparison on a column
    that (nearly) nobody fills is left out; a candidate rule on an empty column is
    dropped; EM training blocks are chosen among those that find pairs on this data, so
    that every comparison kept is trained by at least one block that does not block on
    it (e-mail and phone blocks stand in for missing birth dates or addresses). Raises
    CannotTrain, with the reason in words, when nothing can be trained."""
    con = duckdb.connect(":memory:")
    con.register("prepared", prepared)
    try:
        fill = column_fill(con)
        left_out: dict[str, str] = {}
        comparisons = []
        for name, columns in COMPARISON_COLUMNS.items():
            share = max(fill[c] for c in columns)
            if share >= MIN_FILL:
                comparisons.append(name)
            else:
                left_out[name] = (
                    f"{share:.1%} of the records have {COMPARISON_LABELS[name]}"
                    if share
                    else f"no record has {COMPARISON_LABELS[name]}"
                )
        usable = [
            (cols, blocked)
            for cols, blocked in TRAINING_RULES
            if blocked in comparisons
            and all(fill[c] > 0 for c in cols)
            and _pairs_on(con, cols, "prepared") >= MIN_TRAINING_PAIRS
        ]
    finally:
        con.close()
    chosen = [rule for rule in usable if rule in TRAINING_RULES[:3]]
    if len(chosen) < 3:
        # A usual block is missing (no birth dates, say): the e-mail and phone blocks
        # stand in. Each EM block's m estimates are averaged, and blocks of records that
        # share an e-mail or phone are nearly all true matches, which keeps EM from taking
        # household members (same surname and home) found in the address block as matches.
        chosen += [rule for rule in usable if rule not in chosen]
    trained = {name for name in comparisons if any(b != name for _c, b in chosen)}
    for name in comparisons:
        if name not in trained:
            left_out[name] = f"no training block without {COMPARISON_LABELS[name]} finds pairs"
    comparisons = [name for name in comparisons if name in trained]
    if len(comparisons) < 2 or not chosen:
        have = ", ".join(COMPARISON_LABELS[n] for n in COMPARISON_COLUMNS if n not in left_out)
        raise CannotTrain(
            "Duplicate detection could not learn its model from this data: it needs at "
            "least two kinds of information that records share often enough to compare "
            "(names, birth dates, e-mail addresses, phone numbers, addresses), and "
            + (f"only {have} could be used" if have else "none could be used")
            + ". Left out: "
            + "; ".join(f"{COMPARISON_LABELS[k]} ({v})" for k, v in left_out.items())
            + "."
        )
    present = {c for c, share in fill.items() if share > 0}
    prediction_rules = [rule for cols, rule in PREDICTION_RULES if set(cols) <= present]
    return ModelPlan(
        records=prepared.num_rows,
        fill=fill,
        comparisons=comparisons,
        training_rules=[cols for cols, _blocked in chosen],
        prediction_rules=prediction_rules,
        left_out=left_out,
    )


# ---------------------------------------------------------------------------------------
# Running it
# ---------------------------------------------------------------------------------------


@dataclass
class Detection:
    """What a run produces: scored pairs, clusters, and the trained model for reuse."""

    pairs: pd.DataFrame  # id_a < id_b, probability, match_weight, details (dict)
    clusters: list[list[int]]  # groups of two or more ids, each sorted, at the threshold
    model: dict[str, Any]
    records: int
    timings: dict[str, float] = field(default_factory=dict)
    # What the data allowed: fill shares, comparisons and training blocks used (ModelPlan).
    plan: dict[str, Any] = field(default_factory=dict)


def _db_api() -> DuckDBAPI:
    con = duckdb.connect(":memory:")
    # Two cores here; DuckDB would otherwise use every core of a bigger box, which is fine.
    return DuckDBAPI(connection=con)


M_FLOOR = 1e-6


def _floor_em_m_probabilities() -> None:
    """Splink 5.0 rejects an m probability of exactly 0, which EM reaches on small data
    when a level is seen only among non-matches in one training block. Floor it at
    M_FLOOR (at most ~20 bits of evidence against) instead of failing the run."""
    from splink.internals import expectation_maximisation as em

    original = em.populate_m_u_from_lookup
    if getattr(original, "_rapport_floor", False):
        return

    def populate(fixed: Any, level: Any, name: str, lookup: dict[str, dict[int, Any]]) -> None:
        for record in lookup.get(name, {}).values():
            m = record.get("m_probability")
            if isinstance(m, int | float) and m < M_FLOOR:
                record["m_probability"] = M_FLOOR
        original(fixed, level, name, lookup)

    populate._rapport_floor = True  # type: ignore[attr-defined]
    em.populate_m_u_from_lookup = populate  # type: ignore[assignment]


_floor_em_m_probabilities()


# Deterministic rules for λ: pairs agreeing on one of them are taken as matches. Each is
# a conjunction of exact-match levels of the model, so its recall among true matches can
# be read off the trained m probabilities (see `_deterministic_recall`).
DETERMINISTIC_RULES: list[tuple[Any, list[tuple[str, str]]]] = [
    (block_on("full_name", "birth_date"), [("name", "full_name"), ("birth_date", "birth_date")]),
    (block_on("email"), [("email", "email")]),
    (block_on("phone", "full_name"), [("phone", "phone"), ("name", "full_name")]),
]
# The recall assumed before the m probabilities are known (only EM's starting point).
INITIAL_RECALL = 0.7
RECALL_BOUNDS = (0.05, 0.95)


def _exact_m(model: dict[str, Any], comparison: str, column: str) -> float:
    """m of the exact-match level on `column` in `comparison` (0 when there is none)."""
    for comp in model["comparisons"]:
        if comp["output_column_name"] != comparison:
            continue
        for level in comp["comparison_levels"]:
            sql = level.get("sql_condition", "")
            if sql.replace('"', "") == f"{column}_l = {column}_r":
                return float(level.get("m_probability") or 0.0)
    return 0.0


def _deterministic_recall(
    model: dict[str, Any],
    filled: dict[str, float],
    rules: list[tuple[Any, list[tuple[str, str]]]] | None = None,
) -> float:
    """P(a true match satisfies at least one deterministic rule), under the model's own
    assumption that comparisons are independent given match status: for each rule the
    product over its columns of (share of pairs with both values present) x (m of exact
    agreement); the rules combined as P(name and (birth date or phone)) or e-mail. A rule
    the run could not use (its column is empty) counts as never firing."""
    used = DETERMINISTIC_RULES if rules is None else rules
    p = {
        column: filled.get(column, 0.0) ** 2 * _exact_m(model, comparison, column)
        for _rule, parts in used
        for comparison, column in parts
    }
    for column in ("full_name", "birth_date", "phone", "email"):
        p.setdefault(column, 0.0)
    name_and = p["full_name"] * (p["birth_date"] + p["phone"] - p["birth_date"] * p["phone"])
    recall = 1 - (1 - p["email"]) * (1 - name_and)
    low, high = RECALL_BOUNDS
    return min(max(recall, low), high)


def filled_shares(prepared: pa.Table) -> dict[str, float]:
    """Share of records with a value, per column the deterministic rules use."""
    rows = max(prepared.num_rows, 1)
    return {
        column: 1 - prepared[column].null_count / rows
        for column in ("full_name", "birth_date", "email", "phone")
    }


def train(
    linker: Linker,
    *,
    filled: dict[str, float],
    seed: int = 42,
    plan: ModelPlan | None = None,
    progress: ProgressCallback = _noop_progress,
) -> dict[str, Any]:
    """EM on the data itself: u from random pairs, m by EM on a few training blocks, and
    λ from deterministic rules whose recall is read off the trained m probabilities.

    λ = (pairs the deterministic rules find) / (their recall x all pairs). Guessing the
    recall (Splink's usual approach) biases every probability on data whose records are
    more or less corrupted than the guess assumed; after EM the model itself says how
    often a true match agrees exactly on the rules' columns, so λ is re-estimated with
    that recall (no labels involved).

    With a plan, only the deterministic rules and training blocks the data can feed are
    used; a data set none of them fits raises CannotTrain with the reason."""
    training = linker.training
    comparisons = plan.comparisons if plan else list(COMPARISON_COLUMNS)
    used = [
        (rule, parts)
        for rule, parts in DETERMINISTIC_RULES
        if all(filled.get(column, 0.0) > 0 and comp in comparisons for comp, column in parts)
    ]
    if not used:
        raise CannotTrain(
            "Duplicate detection could not estimate how common duplicates are: that needs "
            "records with e-mail addresses, or names with phone numbers or birth dates, and "
            "this data has none of these."
        )
    training.estimate_probability_two_random_records_match(
        [rule for rule, _parts in used], recall=INITIAL_RECALL
    )
    initial_lambda = linker._settings_obj._probability_two_random_records_match
    if not initial_lambda and plan is not None:
        # No two records share an e-mail, or a name with a phone or birth date: assume one
        # duplicate pair rather than none (λ = 0 would make every probability 0).
        n = max(plan.records, 2)
        initial_lambda = 2 / (n * (n - 1))
        linker._settings_obj._probability_two_random_records_match = initial_lambda
    progress("estimated how common duplicates are", 25)
    training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=seed)
    progress("sampled random pairs", 32)
    blocks = [block_on(*cols) for cols in plan.training_rules] if plan else TRAINING_BLOCKING_RULES
    for i, rule in enumerate(blocks, start=1):
        progress(f"training block {i} of {len(blocks)}", 32 + 18 * (i - 1) // len(blocks))
        try:
            training.estimate_parameters_using_expectation_maximisation(
                rule, estimate_without_term_frequencies=True, max_pairs=EM_MAX_PAIRS
            )
        except EMTrainingException as exc:
            raise CannotTrain(
                "Duplicate detection could not learn its model from this data: a training "
                "block found no pairs of records to learn from."
            ) from exc
    recall = _deterministic_recall(linker.misc.save_model_to_json(), filled, used)
    linker._settings_obj._probability_two_random_records_match = min(
        initial_lambda * INITIAL_RECALL / recall, 0.5
    )
    return linker.misc.save_model_to_json()


def _level_labels(linker: Linker) -> dict[str, dict[float, str]]:
    """Per comparison: the match weight of each level -> its label. Splink 5 reports the
    weight per comparison (mw_*), so the level is recovered from its (distinct) weight."""
    labels: dict[str, dict[float, str]] = {}
    for comparison in linker._settings_obj.comparisons:
        by_weight: dict[float, str] = {}
        for level in comparison.comparison_levels:
            weight = level._match_weight
            if weight is not None:
                by_weight.setdefault(round(float(weight), 4), level.label_for_charts)
        labels[comparison.output_column_name] = by_weight
    return labels


def _pairs_frame(predictions: pd.DataFrame, labels: dict[str, dict[float, str]]) -> pd.DataFrame:
    """Normalise Splink's output to id_a < id_b with a details dict per pair:
    {comparison: {"level": label, "weight": bits}}."""
    left = predictions["unique_id_l"].astype("int64")
    right = predictions["unique_id_r"].astype("int64")
    out = pd.DataFrame(
        {
            "id_a": np.minimum(left, right),
            "id_b": np.maximum(left, right),
            "probability": predictions["match_probability"].astype(float),
            "match_weight": predictions["match_weight"].astype(float).round(4),
        }
    )
    parts: dict[str, tuple[list[Any], list[float]]] = {}
    for name, by_weight in labels.items():
        column = predictions.get(f"mw_{name}")
        if column is None:
            continue
        weights = column.astype(float).round(4)
        level = weights.map(by_weight)
        tf = predictions.get(f"mw_tf_adj_{name}")
        total = weights + (tf.astype(float).fillna(0.0) if tf is not None else 0.0)
        parts[name] = (level.tolist(), total.round(2).tolist())
    out["details"] = [
        {
            name: {"level": levels[i], "weight": totals[i]}
            for name, (levels, totals) in parts.items()
        }
        for i in range(len(out))
    ]
    out = out.sort_values(["probability", "id_a", "id_b"], ascending=[False, True, True])
    return out.drop_duplicates(["id_a", "id_b"]).reset_index(drop=True)


def cluster(pairs: pd.DataFrame, *, threshold: float) -> list[list[int]]:
    """Connected components of the pairs at or above the threshold (Splink's clustering)."""
    strong = pairs.loc[pairs["probability"] >= threshold, ["id_a", "id_b", "probability"]]
    if strong.empty:
        return []
    nodes = pd.DataFrame({"unique_id": pd.unique(strong[["id_a", "id_b"]].to_numpy().ravel())})
    edges = strong.rename(
        columns={"id_a": "unique_id_l", "id_b": "unique_id_r", "probability": "match_probability"}
    )
    db_api = _db_api()
    clustered = cluster_pairwise_predictions_at_threshold(
        nodes, edges, db_api, "unique_id", threshold_match_probability=threshold
    ).as_pandas_dataframe()
    groups = clustered.groupby("cluster_id")["unique_id"].apply(lambda s: sorted(int(v) for v in s))
    return sorted((g for g in groups if len(g) > 1), key=lambda g: g[0])


def empty_pairs() -> pd.DataFrame:
    return pd.DataFrame(columns=["id_a", "id_b", "probability", "match_weight", "details"])


def _predict_frame(
    linker: Linker, predictions: Any, labels: dict[str, dict[float, str]]
) -> pd.DataFrame:
    frame = predictions.as_pandas_dataframe()
    if frame.empty:
        return empty_pairs()
    return _pairs_frame(frame, labels)


def detect(
    raw: pd.DataFrame,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    review_threshold: float = REVIEW_THRESHOLD,
    model: dict[str, Any] | None = None,
    progress: ProgressCallback = _noop_progress,
    seed: int = 42,
) -> Detection:
    """Deduplicate every record in `raw`: train (unless a model is given), score, cluster."""
    import time

    timings: dict[str, float] = {}
    if len(raw) < 2:
        return Detection(empty_pairs(), [], model or {}, len(raw), timings)
    start = time.perf_counter()
    prepared = prepare(raw)
    timings["prepare"] = time.perf_counter() - start
    progress("prepared", 20)

    db_api = _db_api()
    table = db_api.register(prepared, table_name="customers")
    t = time.perf_counter()
    fitted: ModelPlan | None = None
    if not model:
        fitted = plan(prepared)
        linker = Linker(table, model_settings(fitted), log_level=logging.ERROR)
        progress("chose the comparisons this data supports", 22)
        model = train(linker, filled=fitted.fill, seed=seed, plan=fitted, progress=progress)
    else:
        linker = Linker(table, model, log_level=logging.ERROR)
    timings["train"] = time.perf_counter() - t
    progress("trained", 50)

    t = time.perf_counter()
    predictions = linker.inference.predict(
        threshold_match_probability=min(threshold, review_threshold), warning_mode="never"
    )
    pairs = _predict_frame(linker, predictions, _level_labels(linker))
    timings["predict"] = time.perf_counter() - t
    progress("scored", 85)

    t = time.perf_counter()
    groups = cluster(pairs, threshold=threshold)
    timings["cluster"] = time.perf_counter() - t
    progress("clustered", 95)
    return Detection(
        pairs, groups, model, len(prepared), timings, fitted.summary() if fitted else {}
    )


def detect_new(
    raw_all: pd.DataFrame,
    new_ids: list[int],
    *,
    model: dict[str, Any],
    threshold: float = DEFAULT_THRESHOLD,
    review_threshold: float = REVIEW_THRESHOLD,
) -> pd.DataFrame:
    """Pairs involving the new or changed records, scored by a saved model (no training).

    Compares the new records with everyone (`predict_between`) and among themselves
    (`predict_within`), with term frequencies taken from the whole table.
    """
    empty = empty_pairs()
    if not new_ids or len(raw_all) < 2:
        return empty
    prepared = prepare(raw_all)
    is_new = pc.is_in(prepared["unique_id"], value_set=pa.array(sorted(set(new_ids)), pa.int64()))
    db_api = _db_api()
    everyone = db_api.register(prepared, table_name="customers")
    new = db_api.register(prepared.filter(is_new), table_name="new_customers")
    old = db_api.register(prepared.filter(pc.invert(is_new)), table_name="old_customers")
    linker = Linker(everyone, model, log_level=logging.ERROR)
    for column in _tf_columns(linker):
        linker.table_management.compute_tf_table(column)
    floor = min(threshold, review_threshold)
    labels = _level_labels(linker)
    frames = [
        _predict_frame(
            linker,
            linker.inference.predict_between(
                new, old, threshold_match_probability=floor, warning_mode="never"
            ),
            labels,
        )
    ]
    if pc.sum(is_new).as_py() > 1:
        frames.append(
            _predict_frame(
                linker,
                linker.inference.predict_within(
                    new, threshold_match_probability=floor, warning_mode="never"
                ),
                labels,
            )
        )
    frames = [f for f in frames if not f.empty]
    if not frames:
        return empty
    combined = pd.concat(frames, ignore_index=True)
    combined = combined.sort_values("probability", ascending=False)
    return combined.drop_duplicates(["id_a", "id_b"]).reset_index(drop=True)


def _tf_columns(linker: Linker) -> list[str]:
    columns: list[str] = []
    for comparison in linker._settings_obj.comparisons:
        for level in comparison.comparison_levels:
            tf = level._tf_adjustment_input_column
            if tf is not None and tf.unquote().name not in columns:
                columns.append(tf.unquote().name)
    return columns
