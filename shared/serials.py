"""Serial numbers and security codes of booklets and coupons.

Format (documented in docs/serials.md):

* coupon serial: 10 digits of sequence number + 1 Verhoeff check digit, e.g. ``00000000420``
  (printed and typed as these 11 digits). Coupons of a booklet have consecutive sequence numbers.
* booklet serial: ``B`` + 8 digits of sequence number + 1 Verhoeff check digit, e.g. ``B000000125``.
* security code: 8 characters of the alphabet ``23456789ABCDEFGHJKLMNPQRSTUVWXYZ`` (no 0/O, 1/I),
  the first 40 bits of HMAC-SHA256(operator secret, serial). Without the secret, a code cannot be
  derived from a serial; guessing one succeeds once in 2**40 tries, and redemption locks a venue out
  after a handful of wrong codes.

Verhoeff (from python-stdnum) catches every single-digit error and every swap of two adjacent
digits, the two commonest typing mistakes.
"""

import hashlib
import hmac
import re

from stdnum import verhoeff
from stdnum.exceptions import ValidationError

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 8
COUPON_DIGITS = 10
BOOKLET_DIGITS = 8
MAX_COUPON_SEQUENCE = 10**COUPON_DIGITS - 1
MAX_BOOKLET_SEQUENCE = 10**BOOKLET_DIGITS - 1

# Whole strings of ASCII digits only (``\d`` would take Arabic-Indic digits, ``$`` a final newline).
_COUPON_RE = re.compile(rf"[0-9]{{{COUPON_DIGITS + 1}}}")
_BOOKLET_RE = re.compile(rf"B[0-9]{{{BOOKLET_DIGITS + 1}}}")
_CODE_RE = re.compile(rf"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")
_SEPARATORS = re.compile(r"[\s\-.]")


class InvalidSerial(ValueError):
    """A serial that is malformed or whose check digit is wrong."""


def coupon_serial(sequence: int) -> str:
    """The printed serial of the coupon with this sequence number."""
    if not 1 <= sequence <= MAX_COUPON_SEQUENCE:
        raise ValueError(f"coupon sequence out of range: {sequence}")
    body = f"{sequence:0{COUPON_DIGITS}d}"
    return body + verhoeff.calc_check_digit(body)


def booklet_serial(sequence: int) -> str:
    """The printed serial of the booklet with this sequence number."""
    if not 1 <= sequence <= MAX_BOOKLET_SEQUENCE:
        raise ValueError(f"booklet sequence out of range: {sequence}")
    body = f"{sequence:0{BOOKLET_DIGITS}d}"
    return "B" + body + verhoeff.calc_check_digit(body)


def normalize(text: str) -> str:
    """What a person typed, without spaces, dashes or dots, upper case."""
    return _SEPARATORS.sub("", str(text)).upper()


def parse_coupon_serial(text: str) -> int:
    """Sequence number of a typed coupon serial; :class:`InvalidSerial` if malformed."""
    serial = normalize(text)
    if not _COUPON_RE.fullmatch(serial):
        raise InvalidSerial(f"a coupon serial has {COUPON_DIGITS + 1} digits")
    try:
        verhoeff.validate(serial)
    except ValidationError as exc:
        raise InvalidSerial("the check digit of this coupon serial is wrong") from exc
    return int(serial[:-1])


def parse_booklet_serial(text: str) -> int:
    """Sequence number of a typed booklet serial; :class:`InvalidSerial` if malformed."""
    serial = normalize(text)
    if not _BOOKLET_RE.fullmatch(serial):
        raise InvalidSerial(f"a booklet serial is B followed by {BOOKLET_DIGITS + 1} digits")
    try:
        verhoeff.validate(serial[1:])
    except ValidationError as exc:
        raise InvalidSerial("the check digit of this booklet serial is wrong") from exc
    return int(serial[1:-1])


def security_code(secret: bytes | str, serial: str) -> str:
    """The security code printed on the coupon ``serial``; needs the operator's secret."""
    key = secret.encode() if isinstance(secret, str) else secret
    if len(key) < 16:
        raise ValueError("the operator's secret must be at least 16 bytes")
    mac = hmac.new(key, b"aptic-coupon:" + serial.encode(), hashlib.sha256).digest()
    number = int.from_bytes(mac[:5], "big")  # 40 bits
    chars = []
    for _ in range(CODE_LENGTH):
        number, index = divmod(number, len(CODE_ALPHABET))
        chars.append(CODE_ALPHABET[index])
    return "".join(reversed(chars))


def is_well_formed_code(text: str) -> bool:
    return bool(_CODE_RE.fullmatch(normalize(text)))


def code_digest(digest_key: bytes | str, serial: str, code: str) -> str:
    """What redemption stores to check a code without knowing how codes are made.

    A keyed hash of ``serial:code`` under the *verification* key, which is not the operator's
    secret: holding it and every digest, one still has to try 2**40 codes per coupon offline.
    """
    key = digest_key.encode() if isinstance(digest_key, str) else digest_key
    message = f"{normalize(serial)}:{normalize(code)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def code_matches(digest_key: bytes | str, serial: str, code: str, digest: str) -> bool:
    return hmac.compare_digest(code_digest(digest_key, serial, code), digest)
