"""The derived columns the model compares (one DuckDB query): normalised the same way
whatever the input's spelling, NULL when missing."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from rapport.dedupe import engine


def _raw(**overrides):
    row = {
        "unique_id": 1,
        "external_id": "x-1",
        "first_name": "  Zoë ",
        "last_name": "O'Brien-Smith",
        "birth_date": dt.date(1971, 4, 9),
        "email": " Zoe.OBrien+news@Example.com ",
        "phone": "+61 3 5995 4258",
        "line1": "26 Chant  Street",
        "line2": "Durraween",
        "postcode": "sw1a 1aa",
        "city": "Box Hill",
        "region": "VIC",
    }
    row.update(overrides)
    return pd.DataFrame([row])


def test_derived_columns():
    row = engine.prepare(_raw()).to_pylist()[0]
    assert row["first_name"] == "zoe"
    assert row["last_name"] == "o brien smith"
    assert row["full_name"] == "zoe o brien smith"
    assert row["first_initial"] == "z" and row["last_initial"] == "o"
    assert row["first_name_mp"] == engine.metaphone("zoe")
    assert {row["name_lo_mp"], row["name_hi_mp"]} == {row["first_name_mp"], row["last_name_mp"]}
    assert (row["birth_date"], row["birth_ym"], row["birth_year"]) == (
        "1971-04-09",
        "1971-04",
        "1971",
    )
    assert row["email"] == "zoe.obrien+news@example.com"
    assert row["email_local"] == "zoeobrien"
    assert row["phone"] == "359954258"
    assert row["address"] == "26 chant street"
    assert row["address_key"] == "26 chant durraween street"
    assert row["postcode"] == "SW1A1AA"
    assert row["city"] == "box hill"


def test_phone_formats_meet_and_swapped_names_share_keys():
    a = engine.prepare(_raw(phone="03 5995 4258")).to_pylist()[0]
    b = engine.prepare(_raw(phone="0359954258", first_name="O'Brien-Smith", last_name="Zoë"))
    b_row = b.to_pylist()[0]
    assert a["phone"] == b_row["phone"] == "359954258"
    assert (a["name_lo_mp"], a["name_hi_mp"]) == (b_row["name_lo_mp"], b_row["name_hi_mp"])
    mixed = engine.prepare(_raw(line1="26 Durraween", line2="Chant Street")).to_pylist()[0]
    assert mixed["address_key"] == a["address_key"]


def test_missing_values_are_null():
    row = engine.prepare(
        _raw(
            first_name="",
            last_name=None,
            birth_date=None,
            email="",
            phone="12",
            line1="",
            line2=None,
            postcode=" ",
        )
    ).to_pylist()[0]
    for column in (
        "first_name",
        "last_name",
        "full_name",
        "first_name_mp",
        "name_lo_mp",
        "birth_date",
        "email",
        "email_local",
        "phone",
        "address",
        "address2",
        "postcode",
    ):
        assert row[column] is None, column
    assert row["address_key"] is None


def test_house_number_street_and_sorted_initials():
    row = engine.prepare(_raw(line1="17 Horsley Crescent", line2="Annesley")).to_pylist()[0]
    assert row["street_number"] == "17"
    assert row["street"] == "horsley crescent"
    assert row["initials"] == "oz"  # Zoë O'Brien-Smith and O'Brien-Smith Zoë alike
    swapped = engine.prepare(_raw(first_name="O'Brien-Smith", last_name="Zoë")).to_pylist()[0]
    assert swapped["initials"] == "oz"
    mixed = engine.prepare(_raw(line1="17 Annesley", line2="Horsley Crescent")).to_pylist()[0]
    assert mixed["street_number"] == "17"


def _model(m_name: float, m_birth: float, m_email: float, m_phone: float) -> dict:
    def comp(name: str, column: str, m: float) -> dict:
        return {
            "output_column_name": name,
            "comparison_levels": [
                {"sql_condition": f'"{column}_l" IS NULL', "is_null_level": True},
                {"sql_condition": f'"{column}_l" = "{column}_r"', "m_probability": m},
                {"sql_condition": "ELSE", "m_probability": 1 - m},
            ],
        }

    return {
        "comparisons": [
            comp("name", "full_name", m_name),
            comp("birth_date", "birth_date", m_birth),
            comp("email", "email", m_email),
            comp("phone", "phone", m_phone),
        ]
    }


def test_deterministic_recall_is_read_off_the_m_probabilities():
    everything = {"full_name": 1.0, "birth_date": 1.0, "email": 1.0, "phone": 1.0}
    # Names and birth dates only (FEBRL): recall = m(name exact) x m(birth date exact).
    febrl_like = {**everything, "email": 0.0, "phone": 0.0}
    assert abs(engine._deterministic_recall(_model(0.4, 0.9, 0.9, 0.9), febrl_like) - 0.36) < 1e-9
    # Half the records without a birth date: both of a pair have one a quarter of the time.
    half = {**febrl_like, "birth_date": 0.5}
    assert abs(engine._deterministic_recall(_model(0.4, 0.9, 0, 0), half) - 0.09) < 1e-9
    # E-mail or (name and (birth date or phone)).
    expected = 1 - (1 - 0.5) * (1 - 0.4 * (0.9 + 0.2 - 0.9 * 0.2))
    got = engine._deterministic_recall(_model(0.4, 0.9, 0.5, 0.2), everything)
    assert abs(got - expected) < 1e-9
    # Clamped: a model that says the rules find (almost) nothing does not blow λ up.
    assert engine._deterministic_recall(_model(0.0, 0.0, 0.0, 0.0), everything) == 0.05
