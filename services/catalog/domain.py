"""Catalog rules: venue lifecycle, search limits, GeoJSON points. Plain Python, no I/O."""

from enum import StrEnum

from shared.contracts.errors_catalog import InvalidTransition, VenueRevoked

DEFAULT_RADIUS_KM = 30
MAX_RADIUS_KM = 1000


class VenueStatus(StrEnum):
    APPLIED = "applied"  # registered by the operator, not yet allowed to redeem
    ACCREDITED = "accredited"  # on the public map, accepts coupons
    SUSPENDED = "suspended"  # off the map and refused at redemption, may be accredited again
    REVOKED = "revoked"  # for good: no decision can change it


class Decision(StrEnum):
    ACCREDIT = "accredit"
    SUSPEND = "suspend"
    REVOKE = "revoke"


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


def geojson_point(location):
    """``{lat, lon}`` as a GeoJSON Point (RFC 7946: coordinates are ``[lon, lat]``)."""
    return {"type": "Point", "coordinates": [location["lon"], location["lat"]]}


def categories_offered(venue):
    return sorted({service["category"] for service in venue.get("services", [])})


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
            for s in venue.get("services", [])
        ],
    }
