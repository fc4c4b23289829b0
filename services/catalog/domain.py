"""Catalog rules: venue lifecycle, geographic search. Plain Python, no I/O."""

import math
from enum import StrEnum

from services.catalog.exceptions import InvalidTransition, VenueRevoked

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
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


def haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat, lon, radius_km):
    """``(min_lat, max_lat, min_lon, max_lon)`` holding every point within ``radius_km``.

    Used to pre-filter on indexed fields before the exact distance; it widens to every longitude
    near the poles or when the box would cross the antimeridian.
    """
    dlat = math.degrees(radius_km / EARTH_RADIUS_KM)
    min_lat, max_lat = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    if min_lat <= -89.9 or max_lat >= 89.9:
        return min_lat, max_lat, -180.0, 180.0
    dlon = math.degrees(radius_km / (EARTH_RADIUS_KM * math.cos(math.radians(lat))))
    if lon - dlon < -180 or lon + dlon > 180:
        return min_lat, max_lat, -180.0, 180.0
    return min_lat, max_lat, lon - dlon, lon + dlon


def within_radius(venues, lat, lon, radius_km):
    """Venues within ``radius_km`` of the point, nearest first, each with ``distance_km``."""
    found = []
    for venue in venues:
        loc = venue["location"]
        distance = haversine_km(lat, lon, loc["lat"], loc["lon"])
        if distance <= radius_km:
            found.append({**venue, "distance_km": round(distance, 3)})
    found.sort(key=lambda v: (v["distance_km"], v["id"]))
    return found


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
