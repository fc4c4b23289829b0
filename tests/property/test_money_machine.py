"""Money safety (issue 10): no cent paid twice, whatever the order in which things happen.

A hypothesis state machine runs ordering, issuance, redemption and settlement in this process:
each service is its real class (``worker_factory``: the real adapters over the real ``api`` and
store), on its own database of the test session's storage server; the broker is an in-memory
:class:`~tests.property.bus.Bus` whose deliveries the machine hands out late, out of order and
more than once; the wall clock is a :class:`~tests.property.bus.Clock` the machine moves.

Rules: orders created, submitted, co-funding decided, paid (sponsor and State, in parts, a
payment replayed), cancelled at any point (a refusal is a valid outcome); events delivered one at
a time in any order, all at once, or again; booklets handed out (dispatched, assigned,
activated), blocked, reported lost or stolen; coupons redeemed at two venues (on time, or late in
the grace month), a redemption retried or voided; settlement runs and expiry runs; time moving
by a day, a month, into the grace month or past it.

After every step, from settlement's ledger (``tests/property/ledger.py``): the journal sums to
zero and balances; no liability or payable account is negative; per order, money out (refunds +
what venues are paid or owed for its coupons) never exceeds money in; each coupon's face value
leaves at most once, to a venue or back to its funders, never both; and, after each run that
settlement made, ``GET /ledger/balance``'s own invariants hold. Nothing is excused: each defect
the machine found is fixed in the services, its smallest scenario a test below.

``MONEY_FUZZ_EXAMPLES`` (default 500) and ``MONEY_FUZZ_STEPS`` (default 5, 25 beyond 500 runs)
set the budget; ``make fuzz`` runs 5,000 longer runs. Beyond 500 runs hypothesis also steers
generation towards runs where money moves in many ways (its *target* phase, ``target()`` in
``teardown``): those runs are the costliest, so ``make test``'s 500 are generated without it.
"""

import copy
import os
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pymongo
import pytest
from hypothesis import HealthCheck, Phase, settings, target
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from nameko.testing.services import worker_factory
from pymongo import monitoring

from services.issuance.settings import Settings as IssuanceSettings
from services.issuance.store import IssuanceRepository
from services.ordering.settings import Settings as OrderingSettings
from services.ordering.store import OrderingRepository
from services.redemption.store import RedemptionRepository
from services.settlement import periods
from services.settlement.settings import Settings as SettlementSettings
from services.settlement.store import SettlementRepository
from shared import serials, times
from shared.errors import AppError
from shared.mongo import AWARE_DATES, database_name
from shared.outbox import OutboxHandle
from tests.conftest import TEST_SECRETS
from tests.factories import IBANS
from tests.property import ledger
from tests.property.bus import Bus, Clock, routes, service_class

EXAMPLES = int(os.environ.get("MONEY_FUZZ_EXAMPLES", "500"))
STEPS = int(os.environ.get("MONEY_FUZZ_STEPS", "5" if EXAMPLES <= 500 else "25"))
# hill-climbing towards runs where much money moves: for the long runs only (see above)
PHASES = tuple(Phase) if EXAMPLES > 500 else tuple(p for p in Phase if p is not Phase.target)

START = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)  # a Monday morning; every run starts here
OPERATOR = {"role": "operator", "key_id": "key_op", "subject_id": None, "label": "ops"}
SERVICE_ID = "svc_00000000000000000001"
VENUES = ["ven_00000000000000000001", "ven_00000000000000000002"]
REPOSITORIES = {
    "ordering": OrderingRepository,
    "issuance": IssuanceRepository,
    "redemption": RedemptionRepository,
    "settlement": SettlementRepository,
}
OUTBOXES = {  # the collections whose documents carry events (shared/outbox.py)
    "ordering": ("orders", "distributors"),
    "issuance": ("booklets",),
    "redemption": ("redemptions",),
}
MAX_ORDERS = 2
# the events after which settlement's journal or payable lines may have changed
MONEY_EVENTS = {"order_confirmed", "order_cancelled", "coupons_redeemed", "redemption_voided"}
# where the first order stands when a run starts (most runs: coupons in hand)
STAGES = ["issued", "redeemed", "paid", "settled", "issued", "submitted", "redeemed", "draft"]

pick = st.integers(min_value=0, max_value=7)  # an index into what exists (modulo its length)


class Written(monitoring.CommandListener):
    """The ``(database, collection)`` of every write command sent (a pymongo listener)."""

    WRITES = {"insert", "update", "delete", "findAndModify"}

    def __init__(self):
        self.namespaces = set()

    def started(self, event):
        if event.command_name in self.WRITES:
            self.namespaces.add((event.database_name, event.command[event.command_name]))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


class Platform:
    """The four services' databases for one test function: made (with their indexes) once, with
    a sponsor, its distributor and two accredited venues (which no rule changes); everything
    else is emptied before each generated run. The test's prefix is dropped afterwards
    (``mongo_config``)."""

    KEPT = {  # per service: collections that hold the actors above, kept across runs
        "ordering": {"sponsors", "distributors"},
        "issuance": {"distributors"},
        "redemption": {"venues"},
        "settlement": {"venues"},
    }

    def __init__(self, mongo_config):
        # a client of its own, to see which collections a run writes (and empty only those)
        self.written = Written()
        self.client = pymongo.MongoClient(
            mongo_config["MONGO_URI"], tz_aware=False, event_listeners=[self.written]
        )
        self.dbs = {}
        for name, repository in REPOSITORIES.items():
            db = self.client[database_name(mongo_config, name)]
            if repository.TZ_AWARE:  # as shared.mongo.get_database opens it for the service
                db = db.with_options(codec_options=AWARE_DATES)
            repository.ensure_indexes(db)
            self.dbs[name] = db
        with Clock(START):
            bus = Bus(ROUTES)
            svc = self.workers(bus)
            bus.workers.update(svc)
            sponsor = svc["ordering"].register_sponsor(
                {
                    "name": "Département de la Gironde",
                    "kind": "department",
                    "territory": "33",
                    "iban": IBANS[1],
                },
                OPERATOR,
            )
            self.sponsor = actor("sponsor", sponsor["id"])
            distributor = svc["ordering"].register_distributor(
                {"name": "CCAS de Bordeaux", "sponsor_id": sponsor["id"], "town_code": "33063"},
                self.sponsor,
            )
            self.distributor = actor("distributor", distributor["id"])
            for n, venue_id in enumerate(VENUES):
                bus.publish("catalog", "venue_accredited", venue_event(venue_id, n))
            bus.drain()
        self.kept = {
            (self.dbs[name].name, collection)
            for name, collections in self.KEPT.items()
            for collection in collections
        }
        self.written.namespaces.clear()
        self.runs = 0
        self.templates = {}  # first order's (stage, cofunded, booklets, face) -> its state

    def reset(self):
        """Empty every collection the last run wrote (indexes stay: making them is slow)."""
        self.runs += 1
        written, self.written.namespaces = self.written.namespaces, set()
        for db_name, collection in sorted(written - self.kept):
            self.client[db_name][collection].delete_many({})
        self.written.namespaces.clear()

    def documents(self):
        """Every document the current run wrote so far, as stored (with its ``_id``)."""
        return {
            namespace: list(self.client[namespace[0]][namespace[1]].find({}))
            for namespace in sorted(self.written.namespaces - self.kept)
        }

    def restore(self, documents):
        for (db_name, collection), docs in documents.items():
            if docs:
                self.client[db_name][collection].insert_many(copy.deepcopy(docs))

    def close(self):
        self.client.close()

    def workers(self, bus):
        """Each service's class with its real store, settings and outbox; ``dispatch`` is the
        bus. (Other dependencies, e.g. the logs' correlation id, are mocks.)"""
        made = {}
        for name, repository in REPOSITORIES.items():
            db = self.dbs[name]
            deps = {"store": repository(db), "dispatch": bus.dispatcher(name)}
            if name in OUTBOXES:
                deps["outbox"] = OutboxHandle(db, OUTBOXES[name], 10)
            if name == "ordering":
                # co-funding on small orders: the minimum is a configuration key
                deps["settings"] = OrderingSettings(cofunding_min_face_value_cents=1)
            elif name == "issuance":
                deps["settings"] = IssuanceSettings(
                    operator_secret=TEST_SECRETS["OPERATOR_SECRET"],
                    code_digest_key=TEST_SECRETS["CODE_DIGEST_KEY"],
                )
            elif name == "redemption":
                deps["config"] = dict(TEST_SECRETS)
            elif name == "settlement":
                deps["settings"] = SETTLEMENT
                deps["config"] = {}
            made[name] = worker_factory(service_class(name), **deps)
        return made


ROUTES = routes()
SETTLEMENT = SettlementSettings()


def actor(role, subject_id):
    return {"role": role, "key_id": f"key_{role}", "subject_id": subject_id, "label": None}


def venue_event(venue_id, n):
    return {
        "venue_id": venue_id,
        "version": 1,
        "status": "accredited",
        "name": f"EPN {n}",
        "venue_type": "public_digital_space",
        "department": "33",
        "town_code": "33063",
        "iban": IBANS[n % len(IBANS)],
        "categories": ["online_admin_procedures"],
        "services": [
            {"service_id": SERVICE_ID, "category": "online_admin_procedures", "price_coupons": 1}
        ],
    }


COFUNDING_APPLICATION = {
    "target_publics": {"skills_plan_priority_pct": 50, "digital_precarity_pct": 50},
    "geographic_area": "Gironde",
    "partners": ["CCAS de Bordeaux"],
    "budget_cents": 100_000,
}
PAYABLE = {"submitted", "cofunding_approved", "cofunding_refused"}


class MoneyMachine(RuleBasedStateMachine):
    """One generated run: up to two orders of one or two booklets of 5 coupons, two venues.

    Actions take ``flow``: the events they cause are delivered at once (with what those cause
    in turn), or stay in flight for the broker rules (``deliver_one``, ``deliver_all``,
    ``redeliver``) to deliver later, out of order, or twice."""

    platform: Platform = None  # set by the test function

    def __init__(self):
        super().__init__()
        self.platform.reset()
        self.clock = Clock(START).install()  # uninstalled by teardown (or the fixture)
        self.bus = Bus(ROUTES)
        self.svc = self.platform.workers(self.bus)
        self.bus.workers.update(self.svc)
        self.bus.listeners.append(self._learn)
        self.sponsor, self.distributor = self.platform.sponsor, self.platform.distributor
        self.orders = []  # order ids
        self.booklets = []  # booklet serials, as issuance published them
        self.coupons = {}  # serial -> {"order_id", "face_value_cents", "booklet"}
        self.booklet_coupons = {}  # booklet serial -> [coupon serials]
        self.payments = []  # (order_id, payload) recorded, to replay
        self.requests = []  # (venue_id, payload) sent to redemption, to retry
        self.redemptions = []  # (redemption_id, venue_id) accepted
        self.settlement_changed = False  # since the last check of the invariants
        self.full_check = False  # the next check reads GET /ledger/balance's whole report
        self.to_settle = False  # settlement heard of money to move since its last run
        self.to_expire = False  # something may have expired since the last expiry run
        self.snapshot = None  # settlement's database at the last check
        self.expiry_ran = False  # an expiry run was made: coupons may be expired

    def teardown(self):
        self.clock.uninstall()
        if self.snapshot is not None and currently_in_test_context():
            # steer generation to runs where money moves in many ways (paid, refunded, voided,
            # clawed back, disputed) rather than runs where little happens
            target(ledger.money_moves(self.snapshot)["kinds of movement"], label="kinds")

    # -- helpers ----------------------------------------------------------------------------------
    def _learn(self, source, event_type, payload):
        """What issuance published: which coupons exist and whose they are (for the checks)."""
        if (source, event_type) == ("issuance", "booklets_issued"):
            for booklet in payload["booklets"]:
                if booklet["serial"] not in self.booklet_coupons:
                    self.booklets.append(booklet["serial"])
                self.booklet_coupons[booklet["serial"]] = [c["serial"] for c in booklet["coupons"]]
                for coupon in booklet["coupons"]:
                    self.coupons[coupon["serial"]] = {
                        "order_id": payload["order_id"],
                        "face_value_cents": coupon["face_value_cents"],
                        "booklet": booklet["serial"],
                    }

    def _call(self, service, method, *args):
        """An RPC, a minute after the last one: the answer, or None for a refusal (an expected
        error is a valid outcome: cancelling a confirmed order, redeeming a blocked coupon...)."""
        self.clock.advance(minutes=1)
        answer = None
        try:
            answer = getattr(self.svc[service], method)(*args)
            return answer
        except AppError:
            return None
        finally:
            # a run: check with the ledger's own report too (unless it was the same run again,
            # answered as it was: nothing written)
            if service == "settlement" and (answer or {}).get("created") is not False:
                self.settlement_changed = self.full_check = True
                self.expiry_ran = self.expiry_ran or method == "run_expiry"

    def _take(self, index):
        delivery = self.bus.take(index)
        self._delivered(delivery)
        return delivery

    def _delivered(self, delivery):
        if delivery.consumer == "settlement":
            if delivery.event_type in MONEY_EVENTS:  # may write the journal or payable lines
                self.settlement_changed = True
            if delivery.event_type in ("order_cancelled", "coupons_redeemed", "redemption_voided"):
                self.to_settle = True
            if delivery.event_type in ("booklet_cancelled", "redemption_voided"):
                self.to_expire = True

    @contextmanager
    def _flowing(self, flow):
        """Deliver the events dispatched inside the block (and what they cause), oldest first,
        if ``flow``; events already in flight before it stay so."""
        before = {id(delivery) for delivery in self.bus.pending}
        yield
        while flow:
            fresh = [i for i, d in enumerate(self.bus.pending) if id(d) not in before]
            if not fresh:
                break
            self._take(fresh[0])

    def _order(self, index):
        return self.orders[index % len(self.orders)]

    def _booklet(self, index):
        return self.booklets[index % len(self.booklets)]

    def _today(self):
        return periods.local_date(self.clock.now(), SETTLEMENT.zone).isoformat()

    def _create(self, cofunded, booklets, face):
        payload = {
            "sponsor_id": self.sponsor["subject_id"],
            "lines": [{"coupons_per_booklet": 5, "quantity": booklets, "face_value_cents": face}],
        }
        if cofunded:
            payload["state_cofunding"] = COFUNDING_APPLICATION
        order = self._call("ordering", "create_order", payload, self.sponsor)
        self.orders.append(order["id"])
        return order["id"]

    def _pay(self, order_id, payer, part):
        """A payment of ``payer``: what it still owes (``part`` 1), or half of it (2)."""
        order = self.svc["ordering"].store.get_order(order_id)
        owed = order["quote"]["sponsor_due_cents" if payer == "sponsor" else "state_share_cents"]
        left = owed - order["paid"][f"{payer}_cents"]
        payload = {
            "amount_cents": max(1, -(-left // part)),
            "payer": payer,
            "reference": f"VIR-{uuid.uuid4().hex[:12]}",
        }
        if self._call("ordering", "record_payment", order_id, payload, OPERATOR) is not None:
            self.payments.append((order_id, payload))

    def _take_to(self, order_id, stage, cofunded):
        """Take a new order to ``stage``: draft; submitted (its co-funding approved); paid (its
        events in flight); issued (every event delivered); redeemed (and a coupon of it redeemed
        at the first venue, its event delivered); settled (and that paid by a settlement run,
        its ``run_completed`` delivered)."""
        if stage == "draft":
            return
        self._call("ordering", "submit_order", order_id, self.sponsor)
        if cofunded:
            decision = {"decision": "approve", "reason": "eligible"}
            self._call("ordering", "decide_cofunding", order_id, decision, OPERATOR)
        if stage == "submitted":
            return
        with self._flowing(stage != "paid"):
            self._pay(order_id, "sponsor", 1)
            if cofunded:
                self._pay(order_id, "state", 1)
        if stage in ("redeemed", "settled"):
            self.redeem(VENUES[0], 0, 0, 1, 0, retry=False, flow=True)
        if stage == "settled":
            self.settlement_run(flow=True)

    # -- orders ---------------------------------------------------------------------------------------
    MODEL = (  # the machine's state a template keeps with the documents
        "orders",
        "booklets",
        "coupons",
        "booklet_coupons",
        "payments",
        "requests",
        "redemptions",
        "to_settle",
        "to_expire",
    )

    @initialize(
        stage=st.sampled_from(STAGES),
        cofunded=st.booleans(),
        booklets=st.integers(1, 2),
        face=st.sampled_from([1000, 1001]),
    )
    def first_order(self, stage, cofunded, booklets, face):
        """The run starts with an order at ``stage`` (see ``_take_to``): most often with its
        coupons in hand.

        An order issued costs about a hundred round trips to the server: the first run that
        needs an order at a stage makes it through the services; later runs get the documents
        it left in every database, and the machine's state, put back as they were
        (``Platform.templates``)."""
        key = (stage, cofunded, booklets, face)
        template = self.platform.templates.get(key)
        if template is not None:
            documents, model, bus, moment = copy.deepcopy(template)
            self.platform.restore(documents)
            for name, value in model.items():
                setattr(self, name, value)
            self.bus.pending, self.bus.delivered, self.bus.log = bus
            self.bus.renumber()
            self.clock.moment = moment
            self.settlement_changed = True
            return
        self._take_to(self._create(cofunded, booklets, face), stage, cofunded)
        if stage != "draft":
            self.platform.templates[key] = copy.deepcopy(
                (
                    self.platform.documents(),
                    {name: getattr(self, name) for name in self.MODEL},
                    (self.bus.pending, self.bus.delivered, self.bus.log),
                    self.clock.moment,
                )
            )

    @precondition(lambda self: self.booklets and len(self.orders) < MAX_ORDERS)
    @rule(cofunded=st.booleans(), booklets=st.integers(1, 2), face=st.sampled_from([1000, 1001]))
    def another_order(self, cofunded, booklets, face):
        """A second order, draft (``order_action`` takes it on, one step at a time), while
        coupons of the first are in hand."""
        self._create(cofunded, booklets, face)

    @precondition(lambda self: self.orders)
    @rule(
        order=pick,
        action=st.sampled_from(["next", "next", "cancel", "replay"]),
        choice=st.integers(0, 3),
        flow=st.booleans(),
    )
    def order_action(self, order, action, choice, flow):
        """``next``: the next step of the order's lifecycle: submit a draft; approve (``choice``
        even) or refuse its co-funding; a payment by the sponsor or the State, in full or half
        of what is left (``choice``). ``cancel``: at any point (refused once confirmed: a valid
        outcome). ``replay``: a payment already recorded, sent again."""
        order_id = self._order(order)
        with self._flowing(flow):
            if action == "cancel":
                withdrawn = {"reason": "withdrawn"}
                self._call("ordering", "cancel_order", order_id, withdrawn, self.sponsor)
                return
            if action == "replay":
                mine = [payload for o, payload in self.payments if o == order_id]
                if mine:
                    payment = mine[choice % len(mine)]
                    self._call("ordering", "record_payment", order_id, payment, OPERATOR)
                return
            status = self.svc["ordering"].store.get_order(order_id)["status"]
            if status == "draft":
                self._call("ordering", "submit_order", order_id, self.sponsor)
            elif status == "cofunding_pending":
                approve = choice % 2 == 0
                decision = {"decision": "approve" if approve else "refuse", "reason": "decided"}
                self._call("ordering", "decide_cofunding", order_id, decision, OPERATOR)
            elif status in PAYABLE:
                payer = "state" if status == "cofunding_approved" and choice % 2 else "sponsor"
                self._pay(order_id, payer, 1 + choice // 2)

    # -- the broker ------------------------------------------------------------------------------------
    @rule(which=pick, how=st.sampled_from(["one", "all", "again"]))
    def deliver(self, which, how):
        """``one``: any pending delivery (a later event overtakes the ones before it); ``all``:
        everything pending, oldest first, and what that dispatches; ``again``: at least once,
        an event delivered already comes again (recent ones first)."""
        if how == "again" or not self.bus.pending:
            if self.bus.delivered:
                delivery = self.bus.delivered[-1 - which % len(self.bus.delivered)]
                self.bus.deliver(delivery)
                self._delivered(delivery)
        elif how == "one":
            self._take(which % len(self.bus.pending))
        else:
            while self.bus.pending:
                self._take(0)

    # -- booklets ----------------------------------------------------------------------------------
    @rule(booklet=pick, flow=st.booleans())
    def hand_out(self, booklet, flow):
        """Dispatched to the sponsor, assigned to its distributor, handed to a beneficiary."""
        if not self.booklets:
            return
        serial = self._booklet(booklet)
        with self._flowing(flow):
            self._call("issuance", "dispatch_booklet", serial, OPERATOR)
            assignment = {"distributor_id": self.distributor["subject_id"]}
            self._call("issuance", "assign_booklet", serial, assignment, self.sponsor)
            self._call("issuance", "activate_booklet", serial, {"profile": None}, self.distributor)

    @rule(
        booklet=pick,
        how=st.sampled_from(["block", "block_order", "lost", "stolen"]),
        flow=st.booleans(),
    )
    def withdraw(self, booklet, how, flow):
        """The sponsor blocks what was not handed out (a booklet, or all of its order), or
        reports a booklet lost or stolen."""
        if not self.booklets:
            return
        serial = self._booklet(booklet)
        with self._flowing(flow):
            if how == "block":
                self._call("issuance", "block_booklet", serial, self.sponsor)
            elif how == "block_order":
                order_id = self.coupons[self.booklet_coupons[serial][0]]["order_id"]
                self._call("issuance", "block_order", order_id, self.sponsor)
            else:
                self._call("issuance", "cancel_booklet", serial, {"reason": how}, self.sponsor)

    # -- redemption ---------------------------------------------------------------------------------
    @rule(
        venue=st.sampled_from(VENUES),
        booklet=pick,
        first=st.integers(0, 4),
        count=st.integers(1, 2),
        late_days=st.sampled_from([0, 10]),
        retry=st.sampled_from([False, False, True]),
        flow=st.booleans(),
    )
    def redeem(self, venue, booklet, first, count, late_days, retry, flow):
        """Coupons of one booklet with their printed codes; ``late_days``: accepted at the desk
        that many days ago, submitted now (late submissions are allowed in the grace month).
        ``retry``: the venue's terminal sends a request again (same idempotency key) instead."""
        if not self.booklets:
            return
        if retry and self.requests:
            venue, payload = self.requests[-1 - first % len(self.requests)]
        else:
            chosen = self.booklet_coupons[self._booklet(booklet)][first : first + count]
            payload = {
                "service_id": SERVICE_ID,
                "idempotency_key": f"key-{uuid.uuid4().hex}",
                "coupons": [{"serial": s, "code": security_code(s)} for s in chosen],
            }
            if late_days and self.clock.now() - START > timedelta(days=late_days):
                payload["accepted_at"] = times.iso(self.clock.now() - timedelta(days=late_days))
        with self._flowing(flow):
            answer = self._call("redemption", "redeem", venue, payload, actor("venue", venue))
        self.requests.append((venue, payload))
        if answer is not None and answer["created"]:
            self.redemptions.append((answer["redemption"]["id"], venue))

    @rule(redemption=pick, by_operator=st.booleans(), flow=st.booleans())
    def void(self, redemption, by_operator, flow):
        """The venue (or the operator) voids a redemption: refused once it is settled."""
        if not self.redemptions:
            return
        redemption_id, venue_id = self.redemptions[-1 - redemption % len(self.redemptions)]
        venue = actor("venue", venue_id)
        with self._flowing(flow):
            if by_operator:
                self._call("redemption", "void", redemption_id, None, OPERATOR)
            else:
                self._call("redemption", "void", redemption_id, venue_id, venue)

    # -- settlement and time ------------------------------------------------------------------------
    @precondition(lambda self: self.to_settle)
    @rule(flow=st.booleans())
    def settlement_run(self, flow):
        """Pay what was redeemed up to today (the cut-off is the machine's clock) and the
        refunds owed; its ``run_completed`` goes on the bus. (Only when settlement heard of
        money to move since its last run.)"""
        self.to_settle = False
        with self._flowing(flow):
            self._call("settlement", "run_settlement", {"period_end": self._today()}, OPERATOR)

    @precondition(lambda self: self.booklets and self.to_expire)
    @rule(flow=st.booleans())
    def expiry_run(self, flow):
        """Expire (and refund) what is past validity and grace month, or of cancelled booklets,
        as of today; its ``coupons_expired`` goes on the bus. (Only when something may have
        expired since the last one: a booklet cancelled, a void, time passing.)"""
        self.to_settle, self.to_expire = True, False
        with self._flowing(flow):
            self._call("settlement", "run_expiry", {"as_of": self._today()}, OPERATOR)

    @rule(days=st.sampled_from([1, 30, 1, 30, 370, 400]))
    def time_passes(self, days):
        """A day, a month, into the grace month of the first booklets, or past it."""
        self.clock.advance(days=days)
        self.to_expire = True

    # -- the invariants -----------------------------------------------------------------------------
    @invariant()
    def money_is_safe(self):
        """After every step (re-read only when settlement's database may have changed)."""
        if not self.settlement_changed:
            return
        full, self.settlement_changed, self.full_check = self.full_check, False, False
        snapshot = ledger.read(self.svc["settlement"].store, self.coupons, full, self.expiry_ran)
        for check in ledger.CHECKS.values():
            check(snapshot)
        self.snapshot = snapshot


def security_code(serial):
    """The code printed on the coupon: made from the operator's secret, as issuance does."""
    return serials.security_code(TEST_SECRETS["OPERATOR_SECRET"], serial)


@pytest.fixture
def platform(mongo_config):
    made = Platform(mongo_config)
    try:
        yield made
    finally:
        Clock.uninstall_all()  # never leave the fake clock to the next test
        made.close()


def test_money_is_never_paid_twice(platform):
    """At least 500 generated runs (``MONEY_FUZZ_EXAMPLES``), invariants after every step."""
    MoneyMachine.platform = platform
    run_state_machine_as_test(
        MoneyMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            phases=PHASES,
            deadline=None,
            database=None,
            derandomize=False,
            print_blob=True,
            suppress_health_check=list(HealthCheck),
        ),
    )


# -- what the machine found: the smallest scenario of each, failing on the code before its fix ----
ISSUED = {"stage": "issued", "cofunded": False, "booklets": 1, "face": 1000}
PAID = {**ISSUED, "stage": "paid"}  # confirmed; order_confirmed in flight to both consumers


def redeem_at(venue, flow, first=0):
    return {
        "venue": venue,
        "booklet": 0,
        "first": first,
        "count": 1,
        "late_days": 0,
        "retry": False,
        "flow": flow,
    }


def deliver_to(event_type, consumer):
    """A step: deliver the pending ``event_type`` to ``consumer`` (overtaking the others)."""

    def step(machine):
        pending = [(d.event_type, d.consumer) for d in machine.bus.pending]
        machine.deliver(pending.index((event_type, consumer)), "one")

    return step


def replay(platform, steps):
    """Run ``steps`` (``(rule, arguments)``, or a function of the machine) on a fresh machine,
    checking the invariants after each as hypothesis does (with the ledger's own report each
    time); the machine, to look at what it did."""
    MoneyMachine.platform = platform
    machine = MoneyMachine()
    try:
        for step in steps:
            if callable(step):
                step(machine)
            else:
                getattr(machine, step[0])(**step[1])
            machine.full_check = True
            machine.money_is_safe()
    finally:
        machine.teardown()
    return machine


def settlement_db(machine):
    return machine.svc["settlement"].store


def test_a_void_overtaking_its_redemption_waits_for_it(platform):
    """Redemption sends ``coupons_redeemed`` then ``redemption_voided``; settlement's queue
    delivers the void first. It used to book the void's reversal alone (coupon liability -1000,
    venue payable +1000: the venue "owed" 10 EUR it was never paid). Now the void waits: nothing
    is booked until the redemption arrives, then both entries together."""
    machine = replay(
        platform,
        [
            ("first_order", ISSUED),
            ("redeem", redeem_at(VENUES[0], flow=False)),  # coupons_redeemed stays in flight
            ("void", {"redemption": 0, "by_operator": False, "flow": True}),  # void delivered
            ("deliver", {"which": 0, "how": "all"}),  # the redemption arrives
            ("settlement_run", {"flow": True}),
        ],
    )
    rid = machine.redemptions[0][0]
    store = settlement_db(machine)
    assert store.get_payable(rid)["status"] == "voided"
    assert store.has_entry(f"redeemed:{rid}") and store.has_entry(f"voided:{rid}")


def test_a_redemption_overtaking_its_order_confirmation_waits_unpaid(platform):
    """``order_confirmed`` is in settlement's queue (its handler failing, a backlog) while
    issuance has issued the order and redemption accepted one of its coupons. Settlement used to
    book the redemption and a run paid the venue from a bank that had booked nothing for the
    order. Now the line waits, unpaid; the confirmation books it, the next run pays it."""
    machine = replay(
        platform,
        [
            ("first_order", PAID),
            deliver_to("order_confirmed", "issuance"),
            deliver_to("booklets_issued", "redemption"),
            ("redeem", redeem_at(VENUES[0], flow=True)),
            ("settlement_run", {"flow": True}),
            deliver_to("order_confirmed", "settlement"),
            ("time_passes", {"days": 1}),
            ("settlement_run", {"flow": True}),
        ],
    )
    rid = machine.redemptions[0][0]
    line = settlement_db(machine).get_payable(rid)
    assert (line["status"], line["run_id"]) == ("settled", "SR-2026-02-03")


def test_coupons_expired_before_their_order_confirmation_are_refunded_once_it_arrives(platform):
    """``order_confirmed`` is still in settlement's queue; ``booklets_issued`` reached it, the
    sponsor blocks the booklet, an expiry run comes. It used to expire the 5 coupons and refund
    nothing, ever. Now it leaves them outstanding; once the confirmation is in, the next expiry
    run expires and refunds them."""
    machine = replay(
        platform,
        [
            ("first_order", PAID),
            deliver_to("order_confirmed", "issuance"),
            deliver_to("booklets_issued", "settlement"),
            ("withdraw", {"booklet": 0, "how": "block", "flow": True}),
            ("expiry_run", {"flow": False}),
            deliver_to("order_confirmed", "settlement"),
            ("time_passes", {"days": 1}),
            ("expiry_run", {"flow": True}),
        ],
    )
    store = settlement_db(machine)
    assert store.db.coupons.count_documents({"status": "expired"}) == 5
    assert store.db.refunds.count_documents({"reason": "expired"}) == 1


def test_a_void_crossing_a_run_is_refused_the_coupon_is_paid_once(platform):
    """Venue 1 redeems a coupon; the settlement run pays it, its ``run_completed`` still on its
    way to redemption, which therefore accepts venue 1's void. It used to free the coupon:
    venue 2 redeemed it, the next run paid it again (only a clawback from venue 1 remained).
    Now settlement refuses the void (an anomaly for the operator) and keeps the coupon used:
    venue 2's redemption is disputed, never paid; when ``run_completed`` reaches redemption,
    the voided redemption is settled after all and takes its coupon back."""
    machine = replay(
        platform,
        [
            ("first_order", ISSUED),
            ("redeem", redeem_at(VENUES[0], flow=True)),
            ("settlement_run", {"flow": False}),  # run_completed stays in flight
            ("void", {"redemption": 0, "by_operator": False, "flow": True}),
            ("redeem", redeem_at(VENUES[1], flow=True)),  # the same coupon, another venue
            ("time_passes", {"days": 1}),
            ("settlement_run", {"flow": True}),
            ("deliver", {"which": 0, "how": "all"}),  # run_completed reaches redemption
        ],
    )
    (first, _), (second, _) = machine.redemptions
    store = settlement_db(machine)
    assert store.get_payable(first)["status"] == "settled"
    assert store.get_payable(second)["status"] == "disputed"
    kinds = {(a["kind"], a["redemption_id"]) for a in ledger.read(store).balance["anomalies"]}
    assert {("void_refused", first), ("redemption_disputed", second)} <= kinds
    restored = machine.svc["redemption"].store.redemption(first)
    assert (restored["status"], restored["void_refused"]) == ("settled", True)
    serial = store.get_payable(first)["serials"][0]
    coupon = machine.svc["redemption"].store.db.coupons.find_one({"serial": serial})
    assert (coupon["status"], coupon["redemption_id"]) == ("redeemed", second)  # disputed


def test_a_void_crossing_a_run_gives_the_coupon_back_to_the_paid_redemption(platform):
    """As above, but nobody redeems the coupon meanwhile: when ``run_completed`` reaches
    redemption, the paid redemption takes its coupon back, so no venue can redeem it again."""
    machine = replay(
        platform,
        [
            ("first_order", ISSUED),
            ("redeem", redeem_at(VENUES[0], flow=True)),
            ("settlement_run", {"flow": False}),  # run_completed stays in flight
            ("void", {"redemption": 0, "by_operator": True, "flow": True}),
            ("deliver", {"which": 0, "how": "all"}),  # run_completed reaches redemption
            ("redeem", redeem_at(VENUES[1], flow=True)),  # refused by redemption
        ],
    )
    (first, _), *others = machine.redemptions
    assert others == []
    serial = settlement_db(machine).get_payable(first)["serials"][0]
    coupon = machine.svc["redemption"].store.db.coupons.find_one({"serial": serial})
    assert (coupon["status"], coupon["redemption_id"]) == ("redeemed", first)
    assert machine.svc["redemption"].store.redemption(first)["status"] == "settled"


def test_the_bus_routes_every_event_the_services_consume():
    """The routes come from the services' own handlers: each money event reaches its
    consumers (a handler renamed or dropped would silently starve the machine)."""
    expected = {
        ("ordering", "order_confirmed"): {"issuance", "settlement"},
        ("ordering", "order_cancelled"): {"settlement"},
        ("ordering", "distributor_registered"): {"issuance"},
        ("issuance", "booklets_issued"): {"ordering", "redemption", "settlement"},
        ("issuance", "booklet_activated"): {"redemption", "settlement"},
        ("issuance", "booklet_cancelled"): {"redemption", "settlement"},
        ("redemption", "coupons_redeemed"): {"settlement"},
        ("redemption", "redemption_voided"): {"settlement"},
        ("settlement", "run_completed"): {"redemption"},
        ("settlement", "coupons_expired"): {"redemption"},
        ("catalog", "venue_accredited"): {"redemption", "settlement"},
    }
    found = {key: {consumer for consumer, _ in value} for key, value in ROUTES.items()}
    for key, consumers in expected.items():
        assert consumers <= found.get(key, set()), key
