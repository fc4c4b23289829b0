"""Money in integer cents.

Every amount in the platform is an ``int`` of euro cents. Percentages are given in
basis points (1 % = 100 bp) so that no float ever touches money. Rounding happens only
through :func:`percent_of`, round half up, once per document (an invoice, a payout statement),
never per line or per coupon.
"""

from decimal import ROUND_HALF_UP, Decimal

BASIS_POINTS = 10_000

ORDER_FEE_BP = 400  # order fee: 4 % of an order's face value, charged to the sponsor
ENCASHMENT_FEE_BP = 400  # encashment fee: 4 % withheld from a venue's payout
COOPERATION_FUND_BP = 100  # cooperation fund: 1 % of face value ordered, out of the operator's fees
STATE_COFUNDING_BP = 5_000  # State co-funding: 50 % (2019-2020 calls), configurable per campaign


def percent_of(amount_cents: int, basis_points: int) -> int:
    """``amount_cents * basis_points / 10000`` rounded half up to a whole cent.

    >>> percent_of(2_000_000, 400)
    80000
    >>> percent_of(1_250, 400)  # 50.00 -> 0.50 ; 12.50 * 4 % = 0.50
    50
    >>> percent_of(1_263, 400)  # 50.52 -> round half up
    51
    """
    _check_cents(amount_cents)
    if not isinstance(basis_points, int) or basis_points < 0:
        raise ValueError(f"basis points must be a non-negative int, got {basis_points!r}")
    numerator = amount_cents * basis_points
    quotient, remainder = divmod(numerator, BASIS_POINTS)
    if remainder * 2 >= BASIS_POINTS:
        quotient += 1
    return quotient


def split_pro_rata(amount_cents: int, shares: dict[str, int]) -> dict[str, int]:
    """Split ``amount_cents`` between parties in proportion to ``shares`` (any integer weights).

    The parts always add up to the whole: each part is rounded down, then the remaining cents
    go one by one to the largest remainders (ties: the order of ``shares``).
    """
    _check_cents(amount_cents)
    total = sum(shares.values())
    if total <= 0 or any(w < 0 for w in shares.values()):
        raise ValueError("shares must be non-negative and not all zero")
    parts, remainders = {}, []
    for index, (party, weight) in enumerate(shares.items()):
        part, rest = divmod(amount_cents * weight, total)
        parts[party] = part
        remainders.append((-rest, index, party))
    for _, _, party in sorted(remainders)[: amount_cents - sum(parts.values())]:
        parts[party] += 1
    return parts


def to_cents(euros: str | int | Decimal) -> int:
    """Parse an amount in euros (``"12.34"``, ``"12,34"``, ``12``) into cents, half up."""
    if isinstance(euros, float):
        raise TypeError("never pass money as float")
    text = str(euros).strip().replace("\u202f", "").replace(" ", "").replace(",", ".")
    value = Decimal(text) * 100
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_eur(cents: int) -> str:
    """French display of an amount: ``format_eur(123456) == '1 234,56 €'``.

    Thousands are grouped with a narrow no-break space (U+202F) and the euro sign follows a
    no-break space (U+00A0), as French typography wants; both print as spaces.
    """
    _check_cents(cents, allow_negative=True)
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(cents), 100)
    grouped = f"{euros:,}".replace(",", "\u202f")
    return f"{sign}{grouped},{rest:02d}\u00a0€"


def _check_cents(value, allow_negative=False):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"money must be int cents, got {type(value).__name__}")
    if value < 0 and not allow_negative:
        raise ValueError(f"amount must not be negative: {value}")
