"""Event handlers that more than one service declares alike: what issuance publishes of booklets
and catalog of venues, each payload loaded through its schema (``shared.events``) and handed to
the service's own functions.

A service mixes :class:`BookletAndVenueHandlers` in and names its functions module
``events_api``; that module has ``on_booklets_issued``, ``on_booklet_activated``,
``on_booklet_cancelled`` and ``on_venue_changed``, each ``(store, event)``, over ``self.store``.
The handlers are the service's own entrypoints: each instance of the service shares its queue,
named as nameko names it, ``evt-<source>-<event>--<service>.<method>`` (unchanged from when
each service declared them)."""

from shared.entrypoints import event_handler
from shared.events import BookletActivated, BookletCancelled, BookletsIssued, VenueChanged


class BookletAndVenueHandlers:
    """``booklets_issued``, ``booklet_activated`` and ``booklet_cancelled`` of issuance, and
    ``venue_accredited``, ``venue_suspended`` and ``venue_updated`` of catalog."""

    events_api = None  # the service's functions module (see above)

    @event_handler("issuance", "booklets_issued")
    def handle_booklets_issued(self, payload):
        self.events_api.on_booklets_issued(self.store, BookletsIssued().load_or_raise(payload))

    @event_handler("issuance", "booklet_activated")
    def handle_booklet_activated(self, payload):
        self.events_api.on_booklet_activated(self.store, BookletActivated().load_or_raise(payload))

    @event_handler("issuance", "booklet_cancelled")
    def handle_booklet_cancelled(self, payload):
        self.events_api.on_booklet_cancelled(self.store, BookletCancelled().load_or_raise(payload))

    @event_handler("catalog", "venue_accredited")
    def handle_venue_accredited(self, payload):
        self.events_api.on_venue_changed(self.store, VenueChanged().load_or_raise(payload))

    @event_handler("catalog", "venue_suspended")
    def handle_venue_suspended(self, payload):
        self.events_api.on_venue_changed(self.store, VenueChanged().load_or_raise(payload))

    @event_handler("catalog", "venue_updated")
    def handle_venue_updated(self, payload):
        self.events_api.on_venue_changed(self.store, VenueChanged().load_or_raise(payload))
