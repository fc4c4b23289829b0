"""Ordering rules: the quote, State co-funding eligibility, the order lifecycle, payments.

Plain Python, no I/O: every function takes and returns plain data (the documents of the store).
"""

from dataclasses import asdict, dataclass

from shared.contracts.errors_ordering import (
    CofundingNotEligible,
    InvalidOrderTransition,
    NotYours,
    Overpayment,
    PaymentReferenceConflict,
    StatePaymentNotExpected,
)
from shared.contracts.schemas_ordering import (  # the vocabulary and limits on the wire
    OrderStatus,
    Payer,
    SponsorKind,
)
from shared.money import ORDER_FEE_BP, STATE_COFUNDING_BP, percent_of

COFUNDING_MIN_FACE_VALUE_CENTS = 1_000_000  # co-funding: 10,000 EUR face value at least...
DEFAULT_ENVELOPE_CENTS = 1_500_000_000  # co-funding: 15 M EUR (2020), per campaign

# why co-funding was refused, recorded on the order (``cofunding.reason_code``): not errors
ENVELOPE_EXHAUSTED = "cofunding_envelope_exhausted"  # what is left cannot cover the share
REFUSED_BY_OPERATOR = "cofunding_refused_by_operator"  # the operator's decision, with a reason


# co-fundable: local authorities and their groupings; towns need a group (see cofunding_refusal)
COFUNDABLE_KINDS = {
    SponsorKind.REGION,
    SponsorKind.DEPARTMENT,
    SponsorKind.METROPOLIS,
    SponsorKind.TOWN,
    SponsorKind.TOWN_GROUP,
}


# ...for the kinds the sources tie it to: towns ordering as a group ("towns only when they order as
# a group of at least 2, with a minimum order of 10,000 EUR"). Each campaign may say otherwise.
MINIMUM_ORDER_KINDS = frozenset({SponsorKind.TOWN, SponsorKind.TOWN_GROUP})


# the statuses each action may start from
PAYABLE = {OrderStatus.SUBMITTED, OrderStatus.COFUNDING_APPROVED, OrderStatus.COFUNDING_REFUSED}
# Not once confirmed: confirmation has started issuance, and the coupons may be printed,
# handed out and redeemed whatever ordering says next. A sponsor withdraws a confirmed order by
# blocking its booklets not yet handed out (issuance), which the next expiry run refunds.
CANCELLABLE = {
    OrderStatus.DRAFT,
    OrderStatus.SUBMITTED,
    OrderStatus.COFUNDING_PENDING,
    OrderStatus.COFUNDING_APPROVED,
    OrderStatus.COFUNDING_REFUSED,
}
ALLOWED_FROM = {
    "submit": {OrderStatus.DRAFT},
    "decide_cofunding": {OrderStatus.COFUNDING_PENDING},
    "pay": PAYABLE,
    "cancel": CANCELLABLE,
    "mark_issued": {OrderStatus.CONFIRMED},
    "dispatch": {OrderStatus.ISSUED},
}


def require_status(order, action):
    """Raise :class:`InvalidOrderTransition` unless ``action`` is possible in the order's status."""
    status = OrderStatus(order["status"])
    if status not in ALLOWED_FROM[action]:
        allowed = sorted(s.value for s in ALLOWED_FROM[action])
        raise InvalidOrderTransition(
            f"cannot {action.replace('_', ' ')} an order that is {status.value}",
            details={"status": status.value, "action": action, "allowed_from": allowed},
        )


def require_owner(actor, sponsor_id):
    """Operators act on every order; a sponsor only on its own (403 ``not_yours``)."""
    if actor["role"] == "operator":
        return
    if actor["role"] != "sponsor" or actor.get("subject_id") != sponsor_id:
        raise NotYours("this resource belongs to another sponsor")


# -- the quote: order fee, State share, rounding -----------------------------------------------
@dataclass(frozen=True)
class Quote:
    coupon_count: int
    face_value_cents: int
    fee_cents: int  # order fee: 4 % of face value, always paid by the sponsor
    state_share_cents: int  # State co-funding: campaign rate x face value; 0 when not co-funded
    sponsor_due_cents: int  # face value - State share + fee

    def as_dict(self):
        return asdict(self)


def quote(lines, state_rate_bp=0, fee_bp=ORDER_FEE_BP):
    """The amounts of an order. Percentages are taken once on the order's total face value,
    rounded half up, never per line or per coupon."""
    coupons = sum(line["quantity"] * line["coupons_per_booklet"] for line in lines)
    face = sum(
        line["quantity"] * line["coupons_per_booklet"] * line["face_value_cents"] for line in lines
    )
    fee = percent_of(face, fee_bp)
    state = percent_of(face, state_rate_bp)
    return Quote(coupons, face, fee, state, face - state + fee)


# -- State co-funding -------------------------------------------------------------------------
def group_size(sponsor):
    """How many distinct towns a sponsor orders for (its own territory and its members)."""
    towns = set(sponsor.get("members") or [])
    if sponsor["kind"] == SponsorKind.TOWN:
        towns.add(sponsor["territory"])
    return len(towns)


def cofunding_refusal(
    sponsor,
    face_value_cents,
    min_face_cents=COFUNDING_MIN_FACE_VALUE_CENTS,
    minimum_kinds=MINIMUM_ORDER_KINDS,
):
    """Why this sponsor's order cannot be co-funded (a :class:`CofundingNotEligible`), or None.
    The minimum order applies to the sponsor kinds of ``minimum_kinds`` only (a campaign's)."""
    kind = SponsorKind(sponsor["kind"])
    details = {"kind": kind.value, "face_value_cents": face_value_cents}
    if kind not in COFUNDABLE_KINDS:
        return CofundingNotEligible(
            "only local authorities and their groupings are co-funded by the State",
            details={**details, "rule": "local_authority"},
        )
    if kind in (SponsorKind.TOWN, SponsorKind.TOWN_GROUP) and group_size(sponsor) < 2:
        return CofundingNotEligible(
            "a town is co-funded only when it orders for a group of at least 2 towns",
            details={**details, "rule": "town_group", "towns": group_size(sponsor)},
        )
    if kind in minimum_kinds and face_value_cents < min_face_cents:
        return CofundingNotEligible(
            "a co-funded order is of at least the minimum face value",
            details={**details, "rule": "minimum_order", "minimum_cents": min_face_cents},
        )
    return None


def check_cofunding_eligible(sponsor, face_value_cents, campaign):
    refusal = cofunding_refusal(
        sponsor,
        face_value_cents,
        campaign["minimum_order_cents"],
        {SponsorKind(kind) for kind in campaign["minimum_order_kinds"]},
    )
    if refusal is not None:
        raise refusal


def default_campaign(
    year,
    rate_bp=STATE_COFUNDING_BP,
    envelope_cents=DEFAULT_ENVELOPE_CENTS,
    minimum_order_cents=COFUNDING_MIN_FACE_VALUE_CENTS,
):
    return {
        "year": year,
        "rate_bp": rate_bp,
        "envelope_cents": envelope_cents,
        "remaining_cents": envelope_cents,
        "minimum_order_cents": minimum_order_cents,
        "minimum_order_kinds": sorted(kind.value for kind in MINIMUM_ORDER_KINDS),
    }


def campaign_minimum(campaign, settings_minimum_cents):
    """A campaign's minimum order and the kinds it applies to (a campaign stored before these
    were settings: the configured minimum, for the sources' kinds)."""
    return {
        "minimum_order_cents": campaign.get("minimum_order_cents", settings_minimum_cents),
        "minimum_order_kinds": campaign.get(
            "minimum_order_kinds", sorted(kind.value for kind in MINIMUM_ORDER_KINDS)
        ),
    }


# -- payments -----------------------------------------------------------------------------------
def amount_owed(order, payer):
    """What ``payer`` owes on the order in all (not what is left)."""
    if payer == Payer.STATE:
        return order["quote"]["state_share_cents"]
    return order["quote"]["sponsor_due_cents"]


def paid_by(order, payer):
    return sum(p["amount_cents"] for p in order.get("payments", []) if p["payer"] == payer)


def find_payment(order, reference):
    for payment in order.get("payments", []):
        if payment["reference"] == reference:
            return payment
    return None


def check_payment(order, payment):
    """Validate a new payment against the order. Returns the payment already recorded under the
    same reference (a replay: record nothing), or None when ``payment`` is to be recorded."""
    existing = find_payment(order, payment["reference"])
    if existing is not None:
        same = (existing["payer"], existing["amount_cents"]) == (
            payment["payer"],
            payment["amount_cents"],
        )
        if not same:
            raise PaymentReferenceConflict(
                details={"reference": payment["reference"], "recorded": existing}
            )
        return existing
    require_status(order, "pay")
    payer = Payer(payment["payer"])
    if payer == Payer.STATE and order["status"] != OrderStatus.COFUNDING_APPROVED:
        raise StatePaymentNotExpected(details={"status": order["status"]})
    owed, paid = amount_owed(order, payer), paid_by(order, payer)
    if paid + payment["amount_cents"] > owed:
        raise Overpayment(
            details={
                "payer": payer.value,
                "owed_cents": owed,
                "paid_cents": paid,
                "amount_cents": payment["amount_cents"],
                "left_cents": owed - paid,
            }
        )
    return None


def fully_paid(order, payments):
    """Whether ``payments`` settle both the sponsor's and the State's share of the order."""
    probe = {**order, "payments": payments}
    return all(paid_by(probe, payer) == amount_owed(probe, payer) for payer in Payer)
