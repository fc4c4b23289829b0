"""What the catalog does, as plain functions over its repository (called by the service class)."""

from services.catalog import domain
from services.catalog.domain import DEFAULT_RADIUS_KM
from shared.contracts.errors_catalog import VenueNotFound
from shared.contracts.schemas_catalog import (
    APPLICATION_FIELDS,
    ServiceStatus,
    VenueChanged,
    VenueStatus,
    parse_near,
    service_status,
)
from shared.history import history_entry
from shared.ids import looks_like_id, new_id
from shared.outbox import outbox_entry
from shared.times import now


def register_venue(repo, data, actor):
    at = now()
    venue = {
        **data,
        "id": new_id("ven"),
        "status": VenueStatus.APPLIED.value,
        "services": [],
        "categories": [],
        "version": 1,
        "created_at": at,
        "history": [history_entry(None, VenueStatus.APPLIED, actor, at, "registered")],
    }
    return repo.insert_venue(venue)


# who registers a venue that applied itself (its history's ``by``)
APPLICANT = {"role": "system", "key_id": None, "subject_id": None, "label": "public application"}


def apply_venue(repo, data):
    """A venue applies itself (the public form): registered ``applied``, never more, with what
    it said for the operator who examines it (``application``)."""
    application = {key: data[key] for key in APPLICATION_FIELDS}
    venue = {key: value for key, value in data.items() if key not in APPLICATION_FIELDS}
    at = now()
    venue = {
        **venue,
        "id": new_id("ven"),
        "status": VenueStatus.APPLIED.value,
        "services": [],
        "categories": [],
        "version": 1,
        "created_at": at,
        "application": application,
        "history": [history_entry(None, VenueStatus.APPLIED, APPLICANT, at, "applied")],
    }
    return repo.insert_venue(venue)


def get_venue(repo, venue_id):
    venue = repo.get_venue(venue_id) if looks_like_id(venue_id, "ven") else None
    if venue is None:
        raise VenueNotFound(details={"venue_id": venue_id})
    return venue


def _event_after(venue, changes):
    """The event reporting ``venue`` once ``changes`` are applied (published with the change)."""
    after = {**venue, **changes, "version": venue["version"] + 1}
    accredited = after["status"] == VenueStatus.ACCREDITED
    if changes.get("status") is None:
        name = "venue_updated"
    else:
        name = "venue_accredited" if accredited else "venue_suspended"
    return outbox_entry(name, VenueChanged().dump(domain.venue_snapshot(after)))


def decide_accreditation(repo, venue_id, decision, reason, actor):
    """Apply an operator's decision; if the venue changed since it was read, decide again on the
    fresh state (never two decisions from one stale read)."""
    while True:
        venue = get_venue(repo, venue_id)
        new_status = domain.next_status(venue["status"], decision).value
        entry = history_entry(venue["status"], new_status, actor, now(), reason)
        event = _event_after(venue, {"status": new_status})
        updated = repo.change_status(
            venue_id, venue["version"], venue["location"], new_status, entry, event
        )
        if updated is not None:
            return updated


def add_service(repo, venue_id, data, actor=None):
    """Add a service to the venue: ``pending`` (not offered, not redeemable) until the operator
    approves it, unless the operator adds it (approved at once). ``actor`` None: an internal
    caller that does not say who (pending)."""
    at = now()
    status = domain.status_when_added(actor)
    reason = "added and approved by the operator" if status is ServiceStatus.APPROVED else "added"
    service = {
        "id": new_id("svc"),
        **data,
        "status": status.value,
        "added_at": at,
        "history": [history_entry(None, status, actor, at, reason)],
    }
    while True:
        venue = get_venue(repo, venue_id)
        services = [*venue["services"], service]
        updated = _write_services(repo, venue, services)
        if updated is not None:
            return updated, service


def decide_service(repo, venue_id, service_id, decision, reason, actor):
    """The operator approves or refuses a venue's service, with a reason kept in the service's
    history; the venue event that follows offers it (or no longer does) to redemption. Applied
    on the venue's version, read again if it changed meanwhile."""
    while True:
        venue = get_venue(repo, venue_id)
        service = domain.find_service(venue, service_id)
        current = service_status(service)
        new_status = domain.next_service_status(current, decision)
        entry = history_entry(current, new_status, actor, now(), reason)
        changed = {
            **service,
            "status": new_status.value,
            "history": [*service.get("history", []), entry],
        }
        services = [changed if s["id"] == service_id else s for s in venue["services"]]
        updated = _write_services(repo, venue, services)
        if updated is not None:
            return updated, domain.find_service(updated, service_id)


def edit_service(repo, venue_id, service_id, data, actor):
    """The venue's staff or the operator change a service (``ServiceInput``'s fields). Edited by
    its venue it is pending again (checked before it is offered), by the operator it keeps its
    status; a history entry "edited" either way. One conditional update on the venue's version
    (read again if it changed meanwhile), with the venue event that offers it or no longer does."""
    domain.check_may_change(venue_id, actor)
    while True:
        venue = get_venue(repo, venue_id)
        service = domain.find_service(venue, service_id)
        current = service_status(service)
        new_status = domain.status_when_edited(current, actor)
        at = now()
        changed = {
            **service,
            **data,
            "status": new_status.value,
            "edited_at": at,
            "history": [
                *service.get("history", []),
                history_entry(current, new_status, actor, at, "edited"),
            ],
        }
        services = [changed if s["id"] == service_id else s for s in venue["services"]]
        updated = _write_services(repo, venue, services)
        if updated is not None:
            return updated, domain.find_service(updated, service_id)


def set_opening_hours(repo, venue_id, data, actor):
    """The venue's staff or the operator write the venue's opening information (free text shown
    on its public page; blank removes it). No other service needs it: no event."""
    domain.check_may_change(venue_id, actor)
    get_venue(repo, venue_id)
    hours = (data.get("opening_hours") or "").strip() or None
    return repo.set_opening_hours(venue_id, hours)


def services_by_status(repo, query):
    """One page of the services in ``query["status"]`` (the operator's list of those awaiting
    approval), oldest first: ``(page, total)``, selected, counted and paged by the database."""
    return repo.services_by_status(
        query["status"], skip=query.get("offset", 0), limit=query.get("limit", 50)
    )


def venues_by_status(repo, query):
    """One page of the venues in ``query["status"]`` (the operator's lists: those awaiting
    accreditation, accredited, suspended, revoked), oldest first: ``(page, total)``, selected,
    counted and paged by the database."""
    return repo.venues_by_status(
        query["status"], skip=query.get("offset", 0), limit=query.get("limit", 50)
    )


def search(repo, query):
    """Accredited venues for the public map, filtered, nearest first when ``near`` is given:
    ``(page, total)``. The database selects, measures, sorts and pages (``$geoNear``)."""
    venues, total = repo.search_accredited(
        department=query.get("department"),
        venue_type=query.get("venue_type"),
        category=query.get("category"),
        near=parse_near(query["near"]) if query.get("near") else None,
        radius_km=query.get("radius_km") or DEFAULT_RADIUS_KM,
        skip=query.get("offset", 0),
        limit=query.get("limit", 50),
    )
    return [domain.public_view(venue) for venue in venues], total


def geojson(venues):
    """A GeoJSON FeatureCollection (RFC 7946: coordinates are ``[lon, lat]``)."""
    features = []
    for venue in map(domain.public_view, venues):  # only approved services are offered
        features.append(
            {
                "type": "Feature",
                "id": venue["id"],
                "geometry": domain.geojson_point(venue["location"]),
                "properties": {
                    "name": venue["name"],
                    "address": venue["address"],
                    "postcode": venue["postcode"],
                    "city": venue["city"],
                    "venue_type": venue["venue_type"],
                    "categories": venue.get("categories", []),
                    "services": [
                        {
                            "id": s["id"],
                            "title": s["title"],
                            "category": s["category"],
                            "duration_minutes": s["duration_minutes"],
                            "price_coupons": s["price_coupons"],
                        }
                        for s in venue.get("services", [])
                    ],
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _write_services(repo, venue, services):
    """The venue's services replaced by ``services`` if the venue is still at the version read
    (None if it changed meanwhile: read it again), with the venue event that tells the others."""
    event = _event_after(venue, {"services": services})
    return repo.set_services(
        venue["id"],
        venue["version"],
        venue["location"],
        services,
        domain.categories_offered({"services": services}),
        event,
    )
