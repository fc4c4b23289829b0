"""The catalog service: a thin nameko adapter over ``services.catalog.api``."""

from nameko.events import EventDispatcher
from nameko.timer import timer

from services.catalog import api, domain
from services.catalog.store import CatalogRepository
from shared.contracts.schemas_catalog import (
    AccreditationInput,
    OpeningHoursInput,
    SearchQuery,
    ServiceApprovalInput,
    ServiceDetailOut,
    ServiceInput,
    ServiceQuery,
    ServiceQueueOut,
    ServiceRefusalInput,
    VenueApplicationInput,
    VenueDetailOut,
    VenueInput,
    VenueOut,
    VenueQuery,
    VenueStatus,
)
from shared.entrypoints import rpc
from shared.logs import Correlation
from shared.mongo import Store
from shared.outbox import OUTBOX_FLUSH_SECONDS, Outbox
from shared.schemas import ActorSchema


class CatalogService:
    name = "catalog"

    store = Store(CatalogRepository)
    dispatch = EventDispatcher()
    outbox = Outbox("venues")
    correlation = Correlation()

    @timer(interval=OUTBOX_FLUSH_SECONDS)
    def flush_outbox(self):
        """Publish events a crash or a broker outage left in the outbox."""
        self.outbox.flush(self.dispatch)

    @rpc
    def health(self):
        """Liveness: answers when the service runs and its store answers a ping."""
        return {"service": self.name, "store": self.store.ping()}

    @rpc
    def register_venue(self, payload, actor):
        """Register a venue (status ``applied``). Returns the venue as the operator sees it."""
        venue = api.register_venue(
            self.store, VenueInput().load_or_raise(payload), ActorSchema().load_or_raise(actor)
        )
        return VenueDetailOut().dump(venue)

    @rpc
    def apply_venue(self, payload):
        """A venue applies itself (the public form, no actor): ``VenueApplicationInput``, the
        department read from the town code. Always registered ``applied``: only the operator
        accredits. Returns the venue as the operator sees it, with its ``application``."""
        venue = api.apply_venue(self.store, VenueApplicationInput().load_or_raise(payload))
        return VenueDetailOut().dump(venue)

    @rpc
    def decide_accreditation(self, venue_id, payload, actor):
        """Accredit, suspend or revoke a venue, with a reason; emits the matching event."""
        data = AccreditationInput().load_or_raise(payload)
        venue = api.decide_accreditation(
            self.store,
            venue_id,
            data["decision"],
            data["reason"],
            ActorSchema().load_or_raise(actor),
        )
        self.outbox.publish_pending(self.dispatch, "venues", {"id": venue_id})
        return VenueDetailOut().dump(venue)

    @rpc
    def add_service(self, venue_id, payload, actor=None):
        """Add a service to a venue's offer; returns the service with its id and ``status``:
        ``pending`` (not offered nor redeemable until the operator approves it), or
        ``approved`` when ``actor`` is the operator."""
        actor = ActorSchema().load_or_raise(actor) if actor is not None else None
        _, service = api.add_service(
            self.store, venue_id, ServiceInput().load_or_raise(payload), actor
        )
        self.outbox.publish_pending(self.dispatch, "venues", {"id": venue_id})
        return {"venue_id": venue_id, **ServiceDetailOut().dump(service)}

    @rpc
    def edit_service(self, venue_id, service_id, payload, actor):
        """The venue's staff or the operator change a service (``ServiceInput``'s fields):
        edited by its venue it is ``pending`` again (not offered until the operator approves
        it), by the operator it keeps its status."""
        actor = ActorSchema().load_or_raise(actor)
        data = ServiceInput().load_or_raise(payload)
        _, service = api.edit_service(self.store, venue_id, service_id, data, actor)
        self.outbox.publish_pending(self.dispatch, "venues", {"id": venue_id})
        return {"venue_id": venue_id, **ServiceDetailOut().dump(service)}

    @rpc
    def set_opening_hours(self, venue_id, payload, actor):
        """The venue's staff or the operator set the venue's opening information (free text,
        500 characters at most; blank or null removes it). Returns the venue as its staff see it."""
        actor = ActorSchema().load_or_raise(actor)
        data = OpeningHoursInput().load_or_raise(payload)
        return VenueDetailOut().dump(api.set_opening_hours(self.store, venue_id, data, actor))

    @rpc
    def approve_service(self, venue_id, service_id, payload, actor):
        """The operator approves a pending (or refused) service: offered and redeemable."""
        data = ServiceApprovalInput().load_or_raise(payload)
        return self._decide_service(venue_id, service_id, "approve", data["reason"], actor)

    @rpc
    def refuse_service(self, venue_id, service_id, payload, actor):
        """The operator refuses a pending service, or withdraws an approved one, with a reason."""
        data = ServiceRefusalInput().load_or_raise(payload)
        return self._decide_service(venue_id, service_id, "refuse", data["reason"], actor)

    def _decide_service(self, venue_id, service_id, decision, reason, actor):
        _, service = api.decide_service(
            self.store, venue_id, service_id, decision, reason, ActorSchema().load_or_raise(actor)
        )
        self.outbox.publish_pending(self.dispatch, "venues", {"id": venue_id})
        return {"venue_id": venue_id, **ServiceDetailOut().dump(service)}

    @rpc
    def list_services(self, query):
        """One page of the services awaiting approval (``status`` pending, the default) or
        refused, oldest first, with ``total``: the database pages and counts."""
        data = ServiceQuery().load_or_raise(query)
        services, total = api.services_by_status(self.store, data)
        return {
            "total": total,
            "limit": data["limit"],
            "offset": data["offset"],
            "services": ServiceQueueOut(many=True).dump(services),
        }

    @rpc
    def list_venues(self, query):
        """One page of the venues in one ``status`` (``applied``, the default: those awaiting
        accreditation), oldest first, as the operator sees them (details and history), with
        ``total``: the database pages and counts. For the operator's console only."""
        data = VenueQuery().load_or_raise(query)
        venues, total = api.venues_by_status(self.store, data)
        return {
            "total": total,
            "limit": data["limit"],
            "offset": data["offset"],
            "venues": VenueDetailOut(many=True).dump(venues),
        }

    @rpc
    def get_venue(self, venue_id, public=True):
        """One venue; ``public=True`` hides the IBAN and history and unaccredited venues."""
        venue = api.get_venue(self.store, venue_id)
        if public:
            if venue["status"] != VenueStatus.ACCREDITED:
                raise api.VenueNotFound(details={"venue_id": venue_id})
            return VenueOut().dump(domain.public_view(venue))  # approved services only
        return VenueDetailOut().dump(venue)

    @rpc
    def search_venues(self, query):
        """One page of the accredited venues matching ``query``, with ``total`` (all matches).

        Filters of ``SearchQuery``, and its ``limit`` and ``offset``: the database pages and
        counts (``api.search``)."""
        data = SearchQuery().load_or_raise(query)
        venues, total = api.search(self.store, data)
        return {
            "total": total,
            "limit": data["limit"],
            "offset": data["offset"],
            "venues": VenueOut(many=True).dump(venues),
        }

    @rpc
    def map_geojson(self):
        """Every accredited venue with its services as a GeoJSON FeatureCollection."""
        return api.geojson(self.store.find_accredited())
