"""Settlement's operations, one name for each (``service.py``, tests and benches call them as
``api.<name>``); the code is in a module per job:

- ``ingest``: events of ordering, issuance and catalog (money in, booklets, venues);
- ``redemptions``: redemptions and voids;
- ``postings``: what several jobs use (funders, refund items, a redemption's entries, booking
  what waited);
- ``progress``: the run lock and a run's progress reports;
- ``runs``: settlement runs; ``statements``: what a run pays and states, read back (fund
  statements, refunds, venue statements, SEPA transfers, events);
- ``expiry``: expiry runs, credit notes, expiry alerts;
- ``reports``: the sponsor's dashboard; ``ledger``: the balance and the ledger's invariants.

Every handler is idempotent: its ledger entry has a key made of the event's identity, so a
redelivered event writes nothing; its other writes are upserts or conditional updates.
Runs are resumable state machines: a run interrupted half way is finished by asking for it again,
and a step already done is not done twice (ledger keys per run and venue / funder / order).

Times are aware UTC datetimes (``shared.times``); days (cut-offs, ``as_of``, dates printed on
documents, the dashboard's months) are days of the operator's timezone (``periods``).
"""

from services.settlement.expiry import (  # noqa: F401
    ALERT_DAYS,
    _expiry_run,
    _refund_expired,
    credit_note,
    credit_note_by_reference,
    credit_notes,
    expiry_alerts,
    expiry_events,
    expiry_run,
    expiry_run_id_for,
    get_expiry_run,
    start_expiry_run,
)
from services.settlement.ingest import (  # noqa: F401
    _coupons_exist,
    on_booklet_activated,
    on_booklet_cancelled,
    on_booklets_issued,
    on_order_cancelled,
    on_order_confirmed,
    on_venue_changed,
)
from services.settlement.ledger import (  # noqa: F401
    INVARIANTS,
    VIOLATIONS_SHOWN,
    _anomalies,
    _invariant,
    _invariants,
    ledger_balance,
)
from services.settlement.postings import (  # noqa: F401
    _book_waiting,
    _funder,
    _line_by_order,
    _post_redemption,
    _post_void,
    book_waiting,
    refund_item,
    sponsor_funder_id,
    state_id,
)
from services.settlement.progress import (  # noqa: F401
    PROGRESS_EVERY,
    RUN_LOCK,
    RUN_LOCK_SECONDS,
    Progress,
    _with_lock,
)
from services.settlement.redemptions import (  # noqa: F401
    _book_redemption,
    _book_void,
    _order_lines,
    face_by_order,
    on_coupons_redeemed,
    on_redemption_voided,
)
from services.settlement.reports import (  # noqa: F401
    sponsor_dashboard,
)
from services.settlement.runs import (  # noqa: F401
    VenueSums,
    _apply_refused_void,
    _compute_run,
    _counted,
    _settlement_run,
    _void_released,
    run_id_for,
    settlement_run,
    start_settlement_run,
    venue_sums,
    venue_totals,
)
from services.settlement.statements import (  # noqa: F401
    _fund_statements,
    _pay_refunds,
    _refund_row,
    _unpaid,
    fund_statement,
    fund_statement_key,
    fund_statement_lines,
    get_run,
    run_events,
    sepa_transfers,
    statement,
    statement_lines,
    venue_statements,
)
