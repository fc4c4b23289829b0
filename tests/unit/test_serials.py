"""Serial numbers, check digits and security codes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import serials
from shared.ids import looks_like_id

SECRET = "unit-test-operator-secret-0123456789"


def test_coupon_serial_round_trip_and_format():
    serial = serials.coupon_serial(42)
    assert len(serial) == 11 and serial.isdigit() and serial.startswith("0000000042")
    assert serials.parse_coupon_serial(serial) == 42
    assert serials.parse_coupon_serial(f" {serial[:4]}-{serial[4:8]} {serial[8:]} ") == 42


def test_booklet_serial_round_trip():
    serial = serials.booklet_serial(125)
    assert serial.startswith("B00000125") and len(serial) == 10
    assert serials.parse_booklet_serial(serial.lower()) == 125


@given(st.integers(min_value=1, max_value=serials.MAX_COUPON_SEQUENCE))
def test_every_single_digit_error_is_caught(sequence):
    serial = serials.coupon_serial(sequence)
    for position in range(len(serial)):
        for digit in "0123456789":
            if digit == serial[position]:
                continue
            typo = serial[:position] + digit + serial[position + 1 :]
            with pytest.raises(serials.InvalidSerial):
                serials.parse_coupon_serial(typo)


@given(st.integers(min_value=1, max_value=serials.MAX_COUPON_SEQUENCE))
def test_every_adjacent_swap_is_caught(sequence):
    serial = serials.coupon_serial(sequence)
    for i in range(len(serial) - 1):
        if serial[i] == serial[i + 1]:
            continue
        swapped = serial[:i] + serial[i + 1] + serial[i] + serial[i + 2 :]
        with pytest.raises(serials.InvalidSerial):
            serials.parse_coupon_serial(swapped)


@pytest.mark.parametrize("text", ["", "123", "0000000042X", "000000004244", "B00000125", "abc"])
def test_malformed_serials(text):
    with pytest.raises(serials.InvalidSerial):
        serials.parse_coupon_serial(text)
    with pytest.raises(serials.InvalidSerial):
        serials.parse_booklet_serial(text)


def test_security_code_needs_the_secret_and_is_stable():
    serial = serials.coupon_serial(7)
    code = serials.security_code(SECRET, serial)
    assert len(code) == 8 and set(code) <= set(serials.CODE_ALPHABET)
    assert not set(code) & set("01OI")
    assert serials.security_code(SECRET, serial) == code
    assert serials.security_code(SECRET + "x", serial) != code
    with pytest.raises(ValueError):
        serials.security_code("short", serial)


def test_codes_of_consecutive_serials_look_unrelated():
    codes = [serials.security_code(SECRET, serials.coupon_serial(n)) for n in range(1, 2001)]
    assert len(set(codes)) == len(codes)
    # each position uses the whole alphabet: no counting pattern
    for position in range(serials.CODE_LENGTH):
        assert len({c[position] for c in codes}) == len(serials.CODE_ALPHABET)


def test_code_digest_verifies_typed_forms_only_with_the_right_code():
    serial = serials.coupon_serial(9)
    code = serials.security_code(SECRET, serial)
    digest = serials.code_digest("verification-key", serial, code)
    assert serials.code_matches("verification-key", serial, code.lower(), digest)
    assert serials.code_matches("verification-key", serial, f"{code[:4]}-{code[4:]}", digest)
    wrong = ("2" if code[0] != "2" else "3") + code[1:]
    assert not serials.code_matches("verification-key", serial, wrong, digest)
    assert not serials.code_matches("other-key", serial, code, digest)
    assert serials.is_well_formed_code(code) and not serials.is_well_formed_code("O0O0O0O0")


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize("digits", [ARABIC_INDIC, FULL_WIDTH])
def test_serials_are_ascii_digits_only(digits):
    serial = serials.coupon_serial(15)
    assert serials.parse_coupon_serial(serial) == 15
    with pytest.raises(serials.InvalidSerial):
        serials.parse_coupon_serial(serial.translate(digits))
    booklet = serials.booklet_serial(7)
    with pytest.raises(serials.InvalidSerial):
        serials.parse_booklet_serial(booklet.translate(digits))


def test_ids_are_whole_ascii_strings():
    good = "red_0123456789abcdef0123"
    assert looks_like_id(good, "red")
    assert not looks_like_id(good + "\n") and not looks_like_id(" " + good)
