"""The operator's console reads amounts typed the French way into integer cents, never floats,
and refuses what it cannot read for sure; rates typed as percentages; the usual cut-off days."""

from datetime import date

import pytest

from services.web.pages.finance import (
    end_of_last_month,
    parse_day,
    parse_euros,
    parse_rate_bp,
    rate_text,
)


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("1 040,00", 104_000),
        ("1040,00", 104_000),
        ("1040", 104_000),
        ("1\u00a0040,5", 104_050),  # a no-break space, one decimal
        ("1\u202f040,05 €", 104_005),  # as the pages print it
        ("  12,3 € ", 1230),
        ("0,01", 1),
        ("0", 0),
        ("1 000 000,00", 100_000_000),
        ("99999999999,99", 9_999_999_999_999),
    ],
)
def test_french_amounts_are_read_as_cents(typed, cents):
    found = parse_euros(typed)
    assert found == cents and isinstance(found, int)


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "abc",
        "10.50",  # a point: 10,50 or 1 050? never guessed
        "1.040,00",
        "1,040.00",
        "12,345",  # three decimals
        "-5,00",
        "+5",
        "1 04,00",  # thousands grouped by three only
        "10 00",
        ",50",
        "12,",
        "€ 12",
        "1e3",
        "100000000000",  # 12 digits of euros
        None,
    ],
)
def test_other_amounts_are_refused(typed):
    with pytest.raises(ValueError):
        parse_euros(typed)


@pytest.mark.parametrize(
    ("typed", "bp"),
    [("50", 5000), ("37,5", 3750), ("37,5 %", 3750), ("100", 10_000), ("0,01", 1)],
)
def test_rates_typed_as_percentages(typed, bp):
    assert parse_rate_bp(typed) == bp


@pytest.mark.parametrize("typed", ["0", "100,01", "101", "50.5", "x", "", "-10"])
def test_other_rates_are_refused(typed):
    with pytest.raises(ValueError):
        parse_rate_bp(typed)


@pytest.mark.parametrize(
    ("bp", "text"), [(5000, "50"), (3750, "37,5"), (1, "0,01"), (10_000, "100")]
)
def test_rates_shown_as_typed(bp, text):
    assert rate_text(bp) == text
    assert parse_rate_bp(text) == bp


def test_the_usual_cut_off_is_the_end_of_the_last_finished_month():
    assert end_of_last_month(date(2026, 3, 15)) == date(2026, 2, 28)
    assert end_of_last_month(date(2026, 1, 1)) == date(2025, 12, 31)
    assert end_of_last_month(date(2028, 3, 31)) == date(2028, 2, 29)


def test_days_typed():
    assert parse_day("2026-02-28") == date(2026, 2, 28)
    assert parse_day("28/02/2026") is None and parse_day("") is None and parse_day(None) is None
