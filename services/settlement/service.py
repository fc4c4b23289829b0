"""The settlement service: a thin nameko adapter over ``services.settlement.api``.

It learns orders, booklets, venues and redemptions from events (every handler idempotent), keeps
the ledger, and runs settlement and expiry runs on the operator's request. Run events
(``settlement.run_completed``, ``settlement.coupons_expired``) are sent in batches after the run
is completed; a timer sends again those a crash or a broker outage left unsent (consumers are
idempotent). Its documents over RPC (the SEPA file, statements, credit notes) are in
``rpc_documents.py``.
"""

import logging
import time

import eventlet
from nameko.dependency_providers import Config
from nameko.events import EventDispatcher
from nameko.extensions import DependencyProvider
from nameko.timer import timer

from services.settlement import api, periods, schedule
from services.settlement.rpc_documents import DocumentRpc
from services.settlement.settings import SettlementSettings
from services.settlement.store import SettlementRepository
from shared.contracts.schemas_settlement import (
    AlertsOut,
    AlertsQuery,
    BalanceOut,
    DashboardOut,
    ExpiryRunInput,
    ExpiryRunOut,
    ExpiryRunStartedOut,
    RunInput,
    RunListQuery,
    RunOut,
    RunRef,
    RunStartedOut,
)
from shared.entrypoints import event_handler, rpc
from shared.events import (
    CouponsExpired,
    CouponsRedeemed,
    OrderCancelled,
    OrderConfirmed,
    RedemptionVoided,
    RunCompleted,
)
from shared.handlers import BookletAndVenueHandlers
from shared.logs import Correlation
from shared.mongo import Store
from shared.schemas import ActorSchema
from shared.times import iso

log = logging.getLogger(__name__)
REPUBLISH_SECONDS = 30
SCHEDULE_SECONDS = 600  # how often the schedule is looked at (SCHEDULED_RUNS on); at start too
BEGIN_WAIT_SECONDS = 5  # a run asked without waiting: its record exists when the answer goes
SCHEDULE_ACTOR = {"role": "system", "key_id": None, "subject_id": None, "label": "schedule"}


def _times(run, *keys):
    return {**run, **{k: iso(run.get(k)) for k in keys}}


def _actor(actor):
    return ActorSchema().load_or_raise(actor) if actor is not None else None


class Background(DependencyProvider):
    """Work that goes on after the RPC answered, in a thread of the container (stopped with it)."""

    def get_dependency(self, worker_ctx):
        return self.container.spawn_managed_thread


class SettlementService(BookletAndVenueHandlers, DocumentRpc):
    name = "settlement"
    events_api = api  # issuance's booklet events and catalog's venue events (shared.handlers)

    store = Store(SettlementRepository)
    settings = SettlementSettings()
    dispatch = EventDispatcher()
    correlation = Correlation()
    config = Config()
    background = Background()

    # -- events in ----------------------------------------------------------------------------
    @event_handler("ordering", "order_confirmed")
    def handle_order_confirmed(self, payload):
        api.on_order_confirmed(self.store, OrderConfirmed().load_or_raise(payload))

    @event_handler("ordering", "order_cancelled")
    def handle_order_cancelled(self, payload):
        api.on_order_cancelled(self.store, self.settings, OrderCancelled().load_or_raise(payload))

    @event_handler("redemption", "coupons_redeemed")
    def handle_coupons_redeemed(self, payload):
        api.on_coupons_redeemed(self.store, CouponsRedeemed().load_or_raise(payload))

    @event_handler("redemption", "redemption_voided")
    def handle_redemption_voided(self, payload):
        api.on_redemption_voided(self.store, RedemptionVoided().load_or_raise(payload))

    # -- events out ---------------------------------------------------------------------------
    def _publish_run(self, run):
        for payload in api.run_events(
            run, self.store.run_redemption_ids(run["id"]), self.settings.event_batch_size
        ):
            self.dispatch("run_completed", RunCompleted().dump(payload))
        self.store.update_run("runs", run["id"], {"events_published": True})

    def _publish_expiry(self, run):
        for payload in api.expiry_events(
            run, self.store.expired_serials(run["id"]), self.settings.event_batch_size
        ):
            self.dispatch("coupons_expired", CouponsExpired().dump(payload))
        self.store.update_run("expiry_runs", run["id"], {"events_published": True})

    @timer(interval=REPUBLISH_SECONDS)
    def republish(self):
        """Send the events of completed runs that a crash or an outage left unsent."""
        for ref in self.store.unpublished_runs("runs"):
            self._publish_run(self.store.get_run("runs", ref["id"]))
        for ref in self.store.unpublished_runs("expiry_runs"):
            self._publish_expiry(self.store.get_run("expiry_runs", ref["id"]))

    @timer(interval=SCHEDULE_SECONDS, eager=True)
    def scheduled_runs(self):
        """The monthly settlement run (the previous month) and the daily expiry run (today), in
        the operator's timezone, when ``SCHEDULED_RUNS`` is on (services/settlement/schedule.py).
        Several instances may look at once: runs are idempotent and one holds the run lock."""
        if not self.settings.scheduled_runs:
            return
        today = periods.today(self.settings.zone)
        done = {"SR": "runs", "EXP": "expiry_runs"}

        def completed(run_id):
            run = self.store.get_run(done[run_id.split("-", 1)[0]], run_id)
            return bool(run) and run.get("status") == "completed"

        for kind, day in schedule.due(today, completed):
            if kind == "settlement":
                method, payload = self.run_settlement, {"period_end": day.isoformat()}
            else:
                method, payload = self.run_expiry, {"as_of": day.isoformat()}
            log.info("scheduled %s run for %s", kind, day.isoformat())
            self._in_background(method, payload, SCHEDULE_ACTOR)

    # -- RPC ----------------------------------------------------------------------------------
    @rpc
    def health(self):
        """Liveness: answers when the service runs and its store answers a ping."""
        return {"service": self.name, "store": self.store.ping()}

    @rpc
    def run_settlement(self, payload, actor=None):
        """Pay venues for what they redeemed up to ``period_end`` (and funders their refunds).

        ``period_end`` is a day of the operator's timezone: redemptions before the next local
        midnight. Idempotent: the same cut-off answers the same run (``created`` false, else
        true); an interrupted run is resumed. ``actor``: who asks (recorded on the run)."""
        data = RunInput().load_or_raise(payload)
        run, created = api.start_settlement_run(
            self.store, self.settings, data["period_end"], actor=_actor(actor)
        )
        if not run.get("events_published"):
            self._publish_run(run)
        return RunStartedOut().dump(
            {**_times(run, "created_at", "completed_at"), "created": created}
        )

    @rpc
    def begin_settlement_run(self, payload, actor=None):
        """Ask for a settlement run without waiting for it: ``{"id", "kind"}`` at once.

        The same checks as ``run_settlement`` first (400 ``invalid_period``, 422
        ``period_not_over``); the run is then made in the background, its ``progress`` read
        with ``get_settlement_run`` (404 until it has begun). For the pages (issue 14)."""
        data = RunInput().load_or_raise(payload)
        day = periods.past_day(
            data["period_end"], "period_end", self.settings.zone, "the cut-off is not over"
        )
        self.background(
            lambda: self._in_background(self.run_settlement, {"period_end": day.isoformat()}, actor)
        )
        run_id = api.run_id_for(day)
        self._wait_for_record("runs", run_id)
        return {"id": run_id, "kind": "settlement"}

    @rpc
    def begin_expiry_run(self, payload, actor=None):
        """Ask for an expiry run without waiting for it: ``{"id", "kind"}`` at once.

        The same checks as ``run_expiry`` first; the run is then made in the background, its
        ``progress`` read with ``get_expiry_run`` (404 until it has begun)."""
        data = ExpiryRunInput().load_or_raise(payload)
        day = periods.past_day(data["as_of"], "as_of", self.settings.zone, "not in advance")
        self.background(
            lambda: self._in_background(self.run_expiry, {"as_of": day.isoformat()}, actor)
        )
        run_id = api.expiry_run_id_for(day)
        self._wait_for_record("expiry_runs", run_id)
        return {"id": run_id, "kind": "expiry"}

    def _wait_for_record(self, collection, run_id):
        """Until the run begun in the background has its record (or a few seconds: another
        run holding the lock), so that asking for its progress at once finds it."""
        deadline = time.monotonic() + BEGIN_WAIT_SECONDS
        while self.store.get_run(collection, run_id) is None and time.monotonic() < deadline:
            eventlet.sleep(0.05)

    def _in_background(self, method, payload, actor):
        try:
            method(payload, actor)
        except Exception:  # another run holds the lock, or it failed: the run shows where
            log.exception("background run %s failed", payload)

    @rpc
    def get_settlement_run(self, run_id):
        RunRef().load_or_raise({"run_id": run_id})
        return self._run_out(api.get_run(self.store, run_id))

    @rpc
    def list_settlement_runs(self, query=None):
        """A page of settlement runs, newest first, without their payouts (``limit``,
        ``offset``; ``total``: how many runs)."""
        page = RunListQuery().load_or_raise(query or {})
        runs, total = self.store.list_runs("runs", "period_end", page["limit"], page["offset"])
        return {"runs": [self._run_out(r) for r in runs], "total": total, **page}

    def _run_out(self, run):
        return RunOut().dump(_times(run, "created_at", "completed_at"))

    @rpc
    def run_expiry(self, payload, actor=None):
        """Expire coupons past validity and grace month (and of cancelled booklets) as of
        ``as_of``; refund their funders; one credit note each. ``as_of`` is a day of the
        operator's timezone. Idempotent per ``as_of`` (``created`` false for the same day
        again). ``actor``: who asks (recorded on the run)."""
        data = ExpiryRunInput().load_or_raise(payload)
        run, created = api.start_expiry_run(
            self.store, self.settings, data["as_of"], actor=_actor(actor)
        )
        if not run.get("events_published"):
            self._publish_expiry(run)
        return ExpiryRunStartedOut().dump(
            {**_times(run, "created_at", "completed_at"), "created": created}
        )

    @rpc
    def get_expiry_run(self, run_id):
        RunRef().load_or_raise({"run_id": run_id})
        return self._expiry_out(api.get_expiry_run(self.store, run_id))

    @rpc
    def list_expiry_runs(self, query=None):
        """A page of expiry runs, the latest ``as_of`` first (``limit``, ``offset``; ``total``:
        how many runs)."""
        page = RunListQuery().load_or_raise(query or {})
        runs, total = self.store.list_runs("expiry_runs", "as_of", page["limit"], page["offset"])
        return {"runs": [self._expiry_out(r) for r in runs], "total": total, **page}

    def _expiry_out(self, run):
        return ExpiryRunOut().dump(_times(run, "created_at", "completed_at"))

    @rpc
    def ledger_balance(self):
        """Money in, money out, liabilities by account, and the ledger's invariants.

        Conservation as numbers; ``balanced`` only if every invariant holds; the events
        settlement refused to book (``anomalies``)."""
        return BalanceOut().dump(api.ledger_balance(self.store))

    @rpc
    def sponsor_dashboard(self, sponsor_id):
        """The sponsor's anonymised coupons: no cell under 5 beneficiaries, totals included.

        A hidden total is null; tables by the beneficiaries' profile too."""
        return DashboardOut().dump(
            api.sponsor_dashboard(self.store, sponsor_id, tz=self.settings.zone)
        )

    @rpc
    def expiry_alerts(self, sponsor_id, query):
        """What expires within 30 days of ``as_of`` (default today) for the sponsor.

        Days of the operator's timezone."""
        data = AlertsQuery().load_or_raise(query)
        as_of = data["as_of"] or periods.today(self.settings.zone)
        return AlertsOut().dump(
            api.expiry_alerts(self.store, sponsor_id, as_of, tz=self.settings.zone)
        )
