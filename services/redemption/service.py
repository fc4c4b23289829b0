"""The redemption service: a thin nameko adapter over ``services.redemption.api``.

It knows coupons, booklets, sponsors' rules and venues only from events, so it keeps accepting
coupons while ordering, issuance and catalog are stopped. Several instances may run side by side:
they share the RPC queue and coordinate only through the store's conditional updates.
"""

from nameko.dependency_providers import Config
from nameko.events import EventDispatcher
from nameko.timer import timer

from services.redemption import api
from services.redemption.domain import RECOVERY_INTERVAL_SECONDS
from services.redemption.store import RedemptionRepository
from shared import times
from shared.contracts.schemas_redemption import (
    CheckInput,
    CheckOut,
    ListQuery,
    LockOut,
    RedemptionInput,
    RedemptionOut,
)
from shared.entrypoints import event_handler, rpc
from shared.events import CouponsExpired, RunCompleted
from shared.handlers import BookletAndVenueHandlers
from shared.logs import Correlation
from shared.mongo import Store
from shared.outbox import OUTBOX_FIELD, OUTBOX_FLUSH_SECONDS, Outbox
from shared.schemas import ActorSchema, PageQuery


class RedemptionService(BookletAndVenueHandlers):
    """Issuance's booklet events and catalog's venue events: handled by the mixin, through
    ``api`` (``events_api``)."""

    name = "redemption"
    events_api = api

    store = Store(RedemptionRepository)
    dispatch = EventDispatcher()
    outbox = Outbox("redemptions")
    correlation = Correlation()

    config = Config()

    @property
    def digest_key(self):
        """The key of security-code digests (never the operator's secret)."""
        return self.config["CODE_DIGEST_KEY"]

    # -- timers -------------------------------------------------------------------------------
    @timer(interval=OUTBOX_FLUSH_SECONDS)
    def flush_outbox(self):
        """Publish redemption events a crash or a broker outage left in the outbox."""
        self.outbox.flush(self.dispatch)

    @timer(interval=RECOVERY_INTERVAL_SECONDS)
    def recover(self):
        """Give back coupons a crash left claimed without a redemption (after a tombstone takes
        its id); release the coupons of voids left half done."""
        api.recover(self.store)

    # -- events (booklets and venues: shared.handlers) ----------------------------------------
    @event_handler("settlement", "run_completed")
    def handle_run_completed(self, payload):
        api.on_run_completed(self.store, RunCompleted().load_or_raise(payload))

    @event_handler("settlement", "coupons_expired")
    def handle_coupons_expired(self, payload):
        self.store.expire(CouponsExpired().load_or_raise(payload)["coupon_serials"])

    # -- RPC ----------------------------------------------------------------------------------
    @rpc
    def health(self):
        """Liveness: answers when the service runs and its store answers a ping."""
        return {"service": self.name, "store": self.store.ping()}

    @rpc
    def check_coupon(self, venue_id, query):
        """Whether ``venue_id`` may redeem this coupon now (``{serial, code, service_id?}``)."""
        result = api.check(self.store, self.digest_key, venue_id, CheckInput().load_or_raise(query))
        return CheckOut().dump(result)

    @rpc
    def redeem(self, venue_id, payload, actor):
        """Redeem coupons for a service of the venue: all or none; idempotent on the key.
        Returns ``{"redemption": ..., "created": bool}`` (False for a replayed request)."""
        data = RedemptionInput().load_or_raise(payload)
        redemption, created = api.redeem(
            self.store, self.digest_key, venue_id, data, ActorSchema().load_or_raise(actor)
        )
        if created:  # the event is in hand: published without reading it back
            for entry in redemption[OUTBOX_FIELD]:
                self.outbox.publish_entry(
                    self.dispatch, "redemptions", {"id": redemption["id"]}, entry
                )
        return {"redemption": RedemptionOut().dump(api.out(redemption)), "created": created}

    @rpc
    def void(self, redemption_id, venue_id, actor):
        """Void a redemption of ``venue_id`` (None: the operator) before it is settled."""
        redemption = api.void(
            self.store, redemption_id, venue_id, ActorSchema().load_or_raise(actor)
        )
        self.outbox.publish_pending(self.dispatch, "redemptions", {"id": redemption_id})
        return RedemptionOut().dump(api.out(redemption))

    @rpc
    def get_redemption(self, redemption_id, venue_id=None):
        """One redemption (``venue_id``: must be that venue's)."""
        return RedemptionOut().dump(
            api.out(api.get_redemption(self.store, redemption_id, venue_id))
        )

    @rpc
    def list_redemptions(self, query):
        """One page of the redemptions, by venue and period, with ``total`` (all matches).

        ``from`` inclusive, ``to`` exclusive, oldest first, ``limit`` and ``offset``: the database
        pages and counts."""
        data = ListQuery().load_or_raise(query)
        where = (data["venue_id"], times.aware(data["start"]), times.aware(data["end"]))
        found = self.store.list_redemptions(*where, limit=data["limit"], offset=data["offset"])
        return {
            "total": self.store.count_redemptions(*where),
            "limit": data["limit"],
            "offset": data["offset"],
            "redemptions": RedemptionOut(many=True).dump([api.out(r) for r in found]),
        }

    @rpc
    def list_locks(self, query=None):
        """Brute-force locks of venues and coupons, the latest ending first (with their guesses),
        a page at a time (``limit``, ``offset``; ``total``).

        Each: which venue or coupon, how many wrong codes and unknown serials, from which venues,
        until when."""
        page = PageQuery().load_or_raise(query or {})
        found, total = self.store.locks(page["limit"], page["offset"])
        dates = ("window_start", "locked_at", "locked_until")
        locks = [
            {"kind": "venue", **lock, **{k: times.iso(lock.get(k)) for k in dates}}
            for lock in found
        ]
        return {"locks": LockOut(many=True).dump(locks), "total": total, **page}
