"""The duplicate detection engine: a Fellegi-Sunter model (Splink on embedded DuckDB)
over the person records, trained by EM on the data itself, scoring blocked candidate
pairs and clustering them into groups.

The engine knows nothing about Django models beyond reading rows (`loader.py`) and is
driven by `services.py`; everything here works on pandas frames so that the FEBRL and
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

logger = logging.getLogger(__name__)

ENGINE_VERSION = 2  # 2: λ from the model's recall, FEBRL blocking and levels
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
PREDICTION_BLOCKING_RULES: list[Any] = [
    block_on("email"),
    block_on("phone"),
    # With the first initial: last-name sound and birth year alone made the largest
    # blocks of all (most of the candidate pairs at a million records).
    block_on("last_name_mp", "first_initial", "birth_year"),
    block_on("first_name_mp", "birth_date"),
    block_on("initials", "postcode"),
    block_on("first_name", "last_name"),
    block_on("address", "postcode"),
    block_on("last_name", "city"),
    block_on("birth_date", "postcode"),
    block_on("birth_date", "city"),
    block_on("birth_date", "last_initial"),
    block_on("address", "first_initial"),
    block_on("address", "last_initial"),
    # Given and family name swapped (a classic data-entry error).
    "l.first_name = r.last_name and l.last_name = r.first_name",
    # Sounds-alike in either order: swapped names with a typo.
    block_on("name_lo_mp", "name_hi_mp"),
    block_on("address", "city"),
    block_on("address_key", "postcode"),
    # Reaching copies whose names or address lines changed (a new surname, swapped names
    # with a typo, the building in the street line): house number, birth date, second
    # line and one name each with a place.
    block_on("street_number", "postcode"),
    block_on("street_number", "birth_date"),
    block_on("street_number", "city", "initials"),
    block_on("initials", "birth_date"),
    block_on("address2", "postcode"),
    block_on("last_name", "postcode"),
    block_on("first_name", "postcode"),
]

# EM runs once per rule; each leaves the comparisons it blocks on untrained, so together
# they train every comparison.
TRAINING_BLOCKING_RULES = [
    block_on("birth_date"),
    block_on("last_name_mp", "first_name_mp"),
    block_on("postcode", "address"),
]


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


def model_settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            _name_comparison(),
            _birth_date_comparison(),
            cl.EmailComparison("email"),
            _typo_comparison("phone"),
            _location_comparison(),
            _address2_comparison(),
        ],
        blocking_rules_to_generate_predictions=PREDICTION_BLOCKING_RULES,
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
        additional_columns_to_retain=[],
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


def _deterministic_recall(model: dict[str, Any], filled: dict[str, float]) -> float:
    """P(a true match satisfies at least one deterministic rule), under the model's own
    assumption that comparisons are independent given match status: for each rule the
    product over its columns of (share of pairs with both values present) x (m of exact
    agreement); the rules combined as P(name and (birth date or phone)) or e-mail."""
    p = {
        column: filled.get(column, 0.0) ** 2 * _exact_m(model, comparison, column)
        for _rule, parts in DETERMINISTIC_RULES
        for comparison, column in parts
    }
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


def train(linker: Linker, *, filled: dict[str, float], seed: int = 42) -> dict[str, Any]:
    """EM on the data itself: u from random pairs, m by EM on a few training blocks, and
    λ from deterministic rules whose recall is read off the trained m probabilities.

    λ = (pairs the deterministic rules find) / (their recall x all pairs). Guessing the
    recall (Splink's usual approach) biases every probability on data whose records are
    more or less corrupted than the guess assumed; after EM the model itself says how
    often a true match agrees exactly on the rules' columns, so λ is re-estimated with
    that recall (no labels involved)."""
    training = linker.training
    rules = [rule for rule, _parts in DETERMINISTIC_RULES]
    training.estimate_probability_two_random_records_match(rules, recall=INITIAL_RECALL)
    initial_lambda = linker._settings_obj._probability_two_random_records_match
    training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=seed)
    for rule in TRAINING_BLOCKING_RULES:
        training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True, max_pairs=EM_MAX_PAIRS
        )
    recall = _deterministic_recall(linker.misc.save_model_to_json(), filled)
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
            "probability": predictions["match_probability"].astype(float).round(6),
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
    linker = Linker(table, model if model else model_settings(), log_level=logging.ERROR)
    if not model:
        model = train(linker, filled=filled_shares(prepared), seed=seed)
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
    return Detection(pairs, groups, model, len(prepared), timings)


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
