"""Valid payloads to start from in tests (each test changes what it is about)."""

import itertools

_counter = itertools.count(1)

# Real IBANs of the French format with valid check digits (test values, no real accounts).
IBANS = [
    "FR7630006000011234567890189",
    "FR7610107001011234567890129",
    "FR1420041010050500013M02606",
]

# Bordeaux, Mérignac, Pessac, Libourne, Arcachon (Gironde, 33): real coordinates.
PLACES = {
    "bordeaux": {
        "city": "Bordeaux",
        "postcode": "33000",
        "town_code": "33063",
        "lat": 44.8378,
        "lon": -0.5792,
    },
    "merignac": {
        "city": "Mérignac",
        "postcode": "33700",
        "town_code": "33281",
        "lat": 44.8386,
        "lon": -0.6436,
    },
    "pessac": {
        "city": "Pessac",
        "postcode": "33600",
        "town_code": "33318",
        "lat": 44.8067,
        "lon": -0.6311,
    },
    "libourne": {
        "city": "Libourne",
        "postcode": "33500",
        "town_code": "33243",
        "lat": 44.9153,
        "lon": -0.2436,
    },
    "arcachon": {
        "city": "Arcachon",
        "postcode": "33120",
        "town_code": "33009",
        "lat": 44.6586,
        "lon": -1.1689,
    },
}


def venue_payload(place="bordeaux", venue_type="public_digital_space", **overrides):
    where = PLACES[place]
    n = next(_counter)
    payload = {
        "name": f"EPN {where['city']} {n}",
        "address": f"{n} rue de la République",
        "postcode": where["postcode"],
        "city": where["city"],
        "town_code": where["town_code"],
        "department": "33",
        "location": {"lat": where["lat"], "lon": where["lon"]},
        "venue_type": venue_type,
        "iban": IBANS[n % len(IBANS)],
    }
    payload.update(overrides)
    return payload


def service_payload(category="online_admin_procedures", **overrides):
    payload = {
        "title": "Atelier démarches en ligne",
        "category": category,
        "duration_minutes": 120,
        "price_coupons": 1,
    }
    payload.update(overrides)
    return payload
