"""Money helpers, with the worked numbers of the scheme's money rules (docs/ordering.md,
docs/settlement.md)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.money import (
    COOPERATION_FUND_BP,
    ENCASHMENT_FEE_BP,
    ORDER_FEE_BP,
    STATE_COFUNDING_BP,
    format_eur,
    percent_of,
    split_pro_rata,
    to_cents,
)


def test_rule_1_order_fee_200_booklets_of_ten_10_eur_coupons():
    face_value = 200 * 10 * 1000  # 20,000.00 EUR
    assert face_value == 2_000_000
    assert percent_of(face_value, ORDER_FEE_BP) == 80_000  # 800.00 EUR


def test_rule_2_state_pays_half_of_face_value():
    assert percent_of(2_000_000, STATE_COFUNDING_BP) == 1_000_000


def test_rule_3_payout_30_coupons():
    gross = 30 * 1000
    fee = percent_of(gross, ENCASHMENT_FEE_BP)
    assert (gross - fee, fee) == (28_800, 1_200)


def test_rule_4_cooperation_fund_one_percent():
    assert percent_of(2_000_000, COOPERATION_FUND_BP) == 20_000


def test_rule_7_round_half_up_once():
    assert percent_of(1_263, 400) == 51  # 50.52 cents -> 51
    assert percent_of(1_262, 400) == 50  # 50.48 cents -> 50
    assert percent_of(1_250, 400) == 50  # exactly 50
    assert percent_of(12_5, 400) == 5  # 5.00
    assert percent_of(1_237_5, 400) == 495  # 495.00
    assert percent_of(1, 5_000) == 1  # 0.5 cent rounds up


def test_percent_refuses_float_and_negative():
    with pytest.raises(TypeError):
        percent_of(10.0, 400)
    with pytest.raises(ValueError):
        percent_of(-1, 400)
    with pytest.raises(TypeError):
        percent_of(True, 400)


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10_000))
def test_percent_matches_decimal_half_up(amount, bp):
    expected = (Decimal(amount) * bp / 10_000).quantize(Decimal(1), rounding="ROUND_HALF_UP")
    assert percent_of(amount, bp) == int(expected)


def test_split_50_50_and_odd_cent():
    assert split_pro_rata(1000, {"sponsor": 1, "state": 1}) == {"sponsor": 500, "state": 500}
    assert split_pro_rata(1001, {"sponsor": 1, "state": 1}) == {"sponsor": 501, "state": 500}


@given(
    st.integers(min_value=0, max_value=10**10),
    st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=6).filter(any),
)
def test_split_always_adds_up(amount, weights):
    parts = split_pro_rata(amount, {f"p{i}": w for i, w in enumerate(weights)})
    assert sum(parts.values()) == amount
    total = sum(weights)
    for i, w in enumerate(weights):
        assert abs(parts[f"p{i}"] - amount * w / total) < 1 + 1e-9


def test_format_eur_french():
    assert format_eur(123456) == "1\u202f234,56\u00a0€"
    assert format_eur(5) == "0,05\u00a0€"
    assert format_eur(2_000_000) == "20\u202f000,00\u00a0€"
    assert format_eur(-960) == "-9,60\u00a0€"


def test_to_cents():
    assert to_cents("12,34") == 1234
    assert to_cents("1 234.565") == 123457
    assert to_cents(10) == 1000
    with pytest.raises(TypeError):
        to_cents(1.5)
