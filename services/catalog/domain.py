"""Catalog rules: venue lifecycle, services' approval, search limits, GeoJSON points. Plain
Python, no I/O."""

from shared.contracts.errors_catalog import (
    InvalidServiceTransition,
    InvalidTransition,
    NotYours,
    ServiceNotFound,
    VenueRevoked,
)
from shared.contracts.schemas_catalog import (  # the vocabulary and limits on the wire
    Decision,
    ServiceDecision,
    ServiceStatus,
    VenueStatus,
    service_status,
)

DEFAULT_RADIUS_KM = 30


_TRANSITIONS = {
    (VenueStatus.APPLIED, Decision.ACCREDIT): VenueStatus.ACCREDITED,
    (VenueStatus.SUSPENDED, Decision.ACCREDIT): VenueStatus.ACCREDITED,
    (VenueStatus.ACCREDITED, Decision.SUSPEND): VenueStatus.SUSPENDED,
    (VenueStatus.APPLIED, Decision.REVOKE): VenueStatus.REVOKED,
    (VenueStatus.ACCREDITED, Decision.REVOKE): VenueStatus.REVOKED,
    (VenueStatus.SUSPENDED, Decision.REVOKE): VenueStatus.REVOKED,
}


def next_status(current, decision):
    """The status a decision leads to, or an error naming why it cannot be taken."""
    current, decision = VenueStatus(current), Decision(decision)
    if current is VenueStatus.REVOKED:
        raise VenueRevoked("this venue is revoked: no decision can change it")
    try:
        return _TRANSITIONS[(current, decision)]
    except KeyError:
        raise InvalidTransition(
            f"cannot {decision.value} a venue that is {current.value}",
            details={"status": current.value, "decision": decision.value},
        ) from None


_SERVICE_TRANSITIONS = {
    (ServiceStatus.PENDING, ServiceDecision.APPROVE): ServiceStatus.APPROVED,
    (ServiceStatus.REFUSED, ServiceDecision.APPROVE): ServiceStatus.APPROVED,
    (ServiceStatus.PENDING, ServiceDecision.REFUSE): ServiceStatus.REFUSED,
    (ServiceStatus.APPROVED, ServiceDecision.REFUSE): ServiceStatus.REFUSED,  # withdrawn
}


def status_when_added(actor):
    """A service starts pending, to be checked by the operator; one the operator adds itself is
    approved at once (the operator is the one who checks)."""
    if actor and actor.get("role") == "operator":
        return ServiceStatus.APPROVED
    return ServiceStatus.PENDING


def status_when_edited(current, actor):
    """A service its venue edits is checked again before it is offered (pending); one the
    operator edits keeps its status (the operator is the one who checks)."""
    if actor and actor.get("role") == "operator":
        return ServiceStatus(current)
    return ServiceStatus.PENDING


def check_may_change(venue_id, actor):
    """The operator changes any venue's services and opening hours; a venue's staff only their
    own venue's; anyone else nothing (NotYours)."""
    role = (actor or {}).get("role")
    if role == "operator" or (role == "venue" and actor.get("subject_id") == venue_id):
        return
    raise NotYours(
        "only this venue's staff or the operator may change it", details={"venue_id": venue_id}
    )


def next_service_status(current, decision):
    """The status an operator's decision on a service leads to, or why it cannot be taken."""
    current, decision = ServiceStatus(current), ServiceDecision(decision)
    try:
        return _SERVICE_TRANSITIONS[(current, decision)]
    except KeyError:
        raise InvalidServiceTransition(
            f"cannot {decision.value} a service that is {current.value}",
            details={"status": current.value, "decision": decision.value},
        ) from None


def find_service(venue, service_id):
    """The venue's service ``service_id``, or ServiceNotFound."""
    for service in venue.get("services", []):
        if service["id"] == service_id:
            return service
    raise ServiceNotFound(details={"venue_id": venue["id"], "service_id": service_id})


def offered_services(venue):
    """The services the public sees and coupons pay for: the approved ones."""
    return [s for s in venue.get("services", []) if service_status(s) is ServiceStatus.APPROVED]


def public_view(venue):
    """``venue`` with only its offered services (search, map, public venue page)."""
    return {**venue, "services": offered_services(venue)}


def geojson_point(location):
    """``{lat, lon}`` as a GeoJSON Point (RFC 7946: coordinates are ``[lon, lat]``)."""
    return {"type": "Point", "coordinates": [location["lon"], location["lat"]]}


def categories_offered(venue):
    """The categories of the offered (approved) services: what search filters on."""
    return sorted({service["category"] for service in offered_services(venue)})


def venue_snapshot(venue):
    """What other services need to know of a venue (the payload of catalog events)."""
    return {
        "venue_id": venue["id"],
        "version": venue["version"],
        "status": venue["status"],
        "name": venue["name"],
        "venue_type": venue["venue_type"],
        "department": venue["department"],
        "town_code": venue["town_code"],
        "iban": venue["iban"],
        "categories": categories_offered(venue),
        "services": [
            {
                "service_id": s["id"],
                "category": s["category"],
                "price_coupons": s["price_coupons"],
            }
            for s in offered_services(venue)  # a pending or refused one is not redeemable
        ],
    }
