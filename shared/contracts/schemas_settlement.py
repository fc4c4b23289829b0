"""Every payload of the settlement service (RPC in and out; events are in shared/events.py)."""

from marshmallow import fields, validate

from shared.schemas import EventSchema, PageQuery, StrictSchema, UtcDateTime


class RunInput(StrictSchema):
    period_end = fields.Date(
        required=True,
        metadata={
            "description": "last day paid, in the operator's timezone (Europe/Paris): "
            "redemptions before the next local midnight are settled; 2020-01-01 to "
            "9999-11-30 (else 400 invalid_period), not after today (else 422 period_not_over)"
        },
    )


class ExpiryRunInput(StrictSchema):
    as_of = fields.Date(
        required=True,
        metadata={
            "description": "expire coupons whose validity and grace month ended before this "
            "day began (local midnight, operator's timezone); 2020-01-01 to 9999-11-30 (else "
            "400 invalid_period), not after today (else 422 period_not_over)"
        },
    )


class AlertsQuery(StrictSchema):
    as_of = fields.Date(
        load_default=None,
        metadata={
            "description": "first day of the 30 (operator's timezone; default today); "
            "2020-01-01 to 9999-11-30 (else 400 invalid_period)"
        },
    )


class RunRef(StrictSchema):
    run_id = fields.String(required=True, validate=validate.Length(min=1, max=40))


class StatementRef(StrictSchema):
    run_id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    venue_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class FundStatementRef(StrictSchema):
    run_id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    department = fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9AB]{2,3}$"),
        metadata={"description": "a department code: 33, 2A, 974"},
    )


class CreditNoteRef(StrictSchema):
    expiry_run_id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    funder_id = fields.String(required=True, validate=validate.Length(min=1, max=80))


class Totals(EventSchema):
    gross_cents = fields.Integer()
    fee_cents = fields.Integer()
    net_cents = fields.Integer()


class PayoutOut(EventSchema):
    venue_id = fields.String()
    name = fields.String()
    gross_cents = fields.Integer()
    fee_cents = fields.Integer()
    net_cents = fields.Integer()
    line_count = fields.Integer()
    coupon_count = fields.Integer()
    statement_reference = fields.String()


class RefundOut(EventSchema):
    funder_id = fields.String()
    name = fields.String()
    amount_cents = fields.Integer()
    paid = fields.Boolean()


class CarriedOut(EventSchema):
    venue_id = fields.String()
    name = fields.String()
    gross_cents = fields.Integer()
    reason = fields.String(
        metadata={"description": "no_bank_details or clawbacks_exceed_redemptions"}
    )


class ProgressOut(EventSchema):
    phase = fields.String()
    done = fields.Integer()
    total = fields.Integer(allow_none=True)


class FeeIncomeOut(EventSchema):
    order_fees_cents = fields.Integer(
        metadata={
            "description": "4 % order fees, net of the fund's 1 %, of the orders whose fund "
            "contributions the run states (confirmed since the previous run)"
        }
    )
    encashment_fees_cents = fields.Integer(
        metadata={"description": "4 % fees withheld from the run's payouts"}
    )
    total_cents = fields.Integer()


class FundContributionOut(EventSchema):
    department = fields.String()
    contributions_cents = fields.Integer(
        metadata={"description": "1 % of the face value of the orders confirmed since the last run"}
    )
    order_count = fields.Integer()
    face_value_cents = fields.Integer()
    transferred_cents = fields.Integer(
        metadata={
            "description": "transferred to the fund's account by this run (its contributions and "
            "those of earlier runs not transferred yet); 0 when no account is configured"
        }
    )
    held_cents = fields.Integer(
        metadata={"description": "stated and not transferred yet (no fund account configured)"}
    )
    statement_reference = fields.String(metadata={"description": "FDS-YYYY-NNNNNN"})


class RunOut(EventSchema):
    id = fields.String()
    period_end = fields.String()
    status = fields.String(metadata={"description": "claiming, computing or completed"})
    created_at = fields.String()
    created_by = fields.Dict(metadata={"description": "who asked for the run (role, key, label)"})
    completed_at = fields.String(allow_none=True)
    payouts = fields.List(fields.Nested(PayoutOut))
    totals = fields.Nested(Totals)
    refunds = fields.List(fields.Nested(RefundOut))
    refunds_total_cents = fields.Integer()
    carried_forward = fields.List(fields.Nested(CarriedOut))
    summary_reference = fields.String()
    progress = fields.Nested(ProgressOut)
    fee_income = fields.Nested(FeeIncomeOut, metadata={"description": "the run's own fee income"})
    fund_contributions = fields.List(
        fields.Nested(FundContributionOut),
        metadata={"description": "the run's cooperation fund contributions per department"},
    )
    fund_contributions_total_cents = fields.Integer()
    fund_transferred_cents = fields.Integer()


class RunStartedOut(RunOut):
    """The answer to asking for a run: the run, and whether this request created it."""

    created = fields.Boolean(
        metadata={
            "description": "true: this request created the run (201); false: the same "
            "cut-off was asked before, the run is answered (or resumed) as it is (200)"
        }
    )


class CreditNoteRefOut(EventSchema):
    funder_id = fields.String()
    name = fields.String()
    reference = fields.String()
    amount_cents = fields.Integer()


class ExpiryRunOut(EventSchema):
    id = fields.String()
    as_of = fields.String()
    status = fields.String(metadata={"description": "expiring, refunding or completed"})
    created_at = fields.String()
    created_by = fields.Dict(metadata={"description": "who asked for the run (role, key, label)"})
    completed_at = fields.String(allow_none=True)
    coupon_count = fields.Integer()
    cancelled_coupon_count = fields.Integer()
    refunded_cents = fields.Integer()
    credit_notes = fields.List(fields.Nested(CreditNoteRefOut))
    progress = fields.Nested(ProgressOut)


class ExpiryRunStartedOut(ExpiryRunOut):
    """The answer to asking for an expiry run: the run, and whether this request created it."""

    created = fields.Boolean(
        metadata={
            "description": "true: this request created the run (201); false: the same "
            "as_of was asked before (200)"
        }
    )


class AccountOut(EventSchema):
    account = fields.String()
    sub = fields.String(metadata={"description": "venue, territory or funder; empty if none"})
    balance_cents = fields.Integer(metadata={"description": "debits positive, credits negative"})


class Liabilities(EventSchema):
    coupon_liability_cents = fields.Integer()
    venue_payable_cents = fields.Integer()
    refund_payable_cents = fields.Integer()
    cooperation_fund_cents = fields.Integer()


class FundOut(EventSchema):
    territory = fields.String(metadata={"description": "the department (same as department)"})
    department = fields.String()
    balance_cents = fields.Integer()


class ViolationOut(EventSchema):
    """What breaks an invariant: the fields that apply."""

    entry_key = fields.String()
    account = fields.String()
    sub = fields.String()
    order_id = fields.String()
    serial = fields.String()
    amount_cents = fields.Integer()
    money_in_cents = fields.Integer()
    money_out_cents = fields.Integer()
    refunds_cents = fields.Integer()
    venues_cents = fields.Integer()
    to_venues = fields.Integer(metadata={"description": "times paid or owed to a venue"})
    refunded = fields.Integer(metadata={"description": "times refunded to its funders"})


class InvariantOut(EventSchema):
    name = fields.String(
        metadata={
            "description": "journal_balanced, no_negative_liability, "
            "order_money_out_within_money_in or coupon_paid_out_once (docs/settlement.md)"
        }
    )
    holds = fields.Boolean()
    violations = fields.List(fields.Nested(ViolationOut), metadata={"description": "up to 100"})


class AnomalyOut(EventSchema):
    """Something settlement refused to book: no money moved; the operator looks at it."""

    kind = fields.String(
        metadata={
            "description": "cancellation_refused, confirmation_refused, "
            "coupons_of_cancelled_order, redemption_disputed or void_refused (a void of a "
            "redemption a run had paid: the venue keeps it, the coupons stay used)"
        }
    )
    order_id = fields.String()
    order_ids = fields.List(fields.String())
    redemption_id = fields.String()
    venue_id = fields.String(allow_none=True)
    reason = fields.String()
    at = UtcDateTime(allow_none=True)


class PayerOut(EventSchema):
    payer = fields.String(metadata={"description": "sponsor:<id> or state"})
    paid_cents = fields.Integer()


class BalanceOut(EventSchema):
    money_in_cents = fields.Integer()
    money_out_cents = fields.Integer()
    money_in_by_payer = fields.List(fields.Nested(PayerOut))
    liabilities = fields.Nested(Liabilities)
    fee_income_cents = fields.Integer()
    cooperation_fund = fields.List(fields.Nested(FundOut))
    venue_receivable_cents = fields.Integer(
        metadata={"description": "what venues owe back: paid lines voided after their run"}
    )
    accounts = fields.List(fields.Nested(AccountOut))
    entry_count = fields.Integer()
    balanced = fields.Boolean(
        metadata={
            "description": "every invariant holds: every entry sums to zero (money in + "
            "receivable = money out + liabilities + fee income), no liability negative, per "
            "order money out within money in, each coupon paid out once"
        }
    )
    invariants = fields.List(fields.Nested(InvariantOut))
    anomalies = fields.List(fields.Nested(AnomalyOut))


class AlertRow(EventSchema):
    valid_until = fields.String()
    issued = fields.Integer()
    handed_out = fields.Integer()
    not_handed_out = fields.Integer()
    started = fields.Integer()
    blockable = fields.List(
        fields.String(),
        metadata={"description": "serials of the booklets not yet handed out (to block)"},
    )


class AlertTotals(EventSchema):
    issued = fields.Integer()
    handed_out = fields.Integer()
    not_handed_out = fields.Integer()
    started = fields.Integer()


class AlertsOut(EventSchema):
    sponsor_id = fields.String()
    as_of = fields.String()
    until = fields.String()
    expiring = fields.List(fields.Nested(AlertRow))
    totals = fields.Nested(AlertTotals)


class RunAcceptedOut(EventSchema):
    """A run asked for without waiting (``Prefer: respond-async``): where to follow it."""

    id = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "settlement or expiry"})
    location = fields.String(
        required=True, metadata={"description": "the run's address: poll it for its progress"}
    )


class RunListQuery(PageQuery):
    """A page of settlement runs, newest first."""


class CreditNoteQuery(PageQuery):
    funder_id = fields.String(load_default=None, validate=validate.Length(min=1, max=80))


class VenueStatementQuery(PageQuery):
    venue_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class VenueStatementSummary(EventSchema):
    reference = fields.String()
    run_id = fields.String()
    period_end = fields.String(metadata={"description": "the run's cut-off (a day)"})
    issued_at = fields.String()
    gross_cents = fields.Integer()
    fee_cents = fields.Integer()
    net_cents = fields.Integer()
    line_count = fields.Integer()
    coupon_count = fields.Integer()


class CreditNoteSummary(EventSchema):
    reference = fields.String()
    reason = fields.String(metadata={"description": "expired or order_cancelled"})
    funder_id = fields.String(attribute="funder.funder_id")
    name = fields.String(attribute="funder.name")
    total_cents = fields.Integer()
    issued_at = fields.String()
    expiry_run_id = fields.String(allow_none=True)
    order_ids = fields.Method("_order_ids")

    def _order_ids(self, note):
        return [line["order_id"] for line in note["lines"]]


class DashboardRow(EventSchema):
    """One cell of the dashboard; ``suppressed``: too few beneficiaries to show anything."""

    month = fields.String()
    venue = fields.String()
    venue_id = fields.String()
    category = fields.String()
    territory = fields.String()
    age_band = fields.String()
    public_category = fields.String()
    beneficiaries = fields.Integer()
    distributed = fields.Integer(metadata={"description": "booklets handed out"})
    handed_out = fields.Integer(metadata={"description": "coupons handed out"})
    redeemed = fields.Integer()
    expired = fields.Integer()
    outstanding = fields.Integer()
    suppressed = fields.Boolean()


class DashboardTotals(EventSchema):
    """What was issued, always; the rest null when fewer than ``min_beneficiaries`` (but some)
    beneficiaries are behind it (``suppressed``)."""

    booklets_issued = fields.Integer()
    coupons_issued = fields.Integer()
    suppressed = fields.Boolean()
    beneficiaries = fields.Integer(allow_none=True)
    booklets_distributed = fields.Integer(allow_none=True)
    booklets_cancelled = fields.Integer(allow_none=True)
    coupons_handed_out = fields.Integer(allow_none=True)
    coupons_redeemed = fields.Integer(allow_none=True)
    coupons_expired = fields.Integer(allow_none=True)
    coupons_outstanding = fields.Integer(allow_none=True)
    redeemed_cents = fields.Integer(allow_none=True)
    refunded_cents = fields.Integer(allow_none=True)


class IssuedMonth(EventSchema):
    """What the sponsor's orders issued in a month (its own purchases: not anonymised)."""

    month = fields.String()
    booklets = fields.Integer()
    coupons = fields.Integer()


class DashboardOut(EventSchema):
    sponsor_id = fields.String()
    min_beneficiaries = fields.Integer(
        metadata={"description": "cells counting fewer beneficiaries are merged into 'other'"}
    )
    totals = fields.Nested(DashboardTotals)
    by_month = fields.List(fields.Nested(DashboardRow))
    by_venue = fields.List(fields.Nested(DashboardRow))
    by_category = fields.List(fields.Nested(DashboardRow))
    by_territory = fields.List(fields.Nested(DashboardRow))
    by_age_band = fields.List(fields.Nested(DashboardRow))
    by_public_category = fields.List(fields.Nested(DashboardRow))
    issued_by_month = fields.List(fields.Nested(IssuedMonth))
