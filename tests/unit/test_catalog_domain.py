"""Catalog rules without a broker: lifecycle, distances, search, schemas."""

import pytest

from services.catalog import api, domain
from services.catalog.exceptions import InvalidTransition, VenueNotFound, VenueRevoked
from services.catalog.schemas import VenueInput
from services.catalog.store import CatalogRepository
from shared.errors import ValidationFailed
from shared.mongo import get_client
from tests.factories import venue_payload

OPERATOR = {"role": "operator", "key_id": "key_1", "subject_id": None, "label": None}


@pytest.fixture
def repo(mongo_config):
    db = get_client(mongo_config["MONGO_URI"])[mongo_config["MONGO_DB_PREFIX"] + "catalog"]
    CatalogRepository.ensure_indexes(db)
    return CatalogRepository(db)


@pytest.mark.parametrize(
    "current, decision, expected",
    [
        ("applied", "accredit", "accredited"),
        ("accredited", "suspend", "suspended"),
        ("suspended", "accredit", "accredited"),
        ("applied", "revoke", "revoked"),
        ("suspended", "revoke", "revoked"),
    ],
)
def test_allowed_transitions(current, decision, expected):
    assert domain.next_status(current, decision) == expected


def test_refused_transitions():
    with pytest.raises(InvalidTransition):
        domain.next_status("applied", "suspend")
    with pytest.raises(InvalidTransition):
        domain.next_status("accredited", "accredit")
    with pytest.raises(VenueRevoked):
        domain.next_status("revoked", "accredit")


def test_haversine_paris_bordeaux():
    # Paris (Notre-Dame) to Bordeaux (place de la Comédie): 499 km
    assert domain.haversine_km(48.8530, 2.3499, 44.8426, -0.5738) == pytest.approx(499, abs=2)


def test_bounding_box_contains_circle():
    min_lat, max_lat, min_lon, max_lon = domain.bounding_box(44.84, -0.58, 30)
    for lat, lon in [(max_lat, -0.58), (min_lat, -0.58), (44.84, min_lon), (44.84, max_lon)]:
        assert domain.haversine_km(44.84, -0.58, lat, lon) == pytest.approx(30, rel=0.01)


def test_bounding_box_across_antimeridian_widens():
    assert domain.bounding_box(-17.5, 179.9, 50)[2:] == (-180.0, 180.0)


def test_venue_input_validation_names_each_bad_field():
    bad = venue_payload(iban="FR00", siret="12345678901234", town_code="3306", location={"lat": 95})
    with pytest.raises(ValidationFailed) as caught:
        VenueInput().load_or_raise(bad)
    assert set(caught.value.details["fields"]) == {"iban", "siret", "town_code", "location"}
    good = VenueInput().load_or_raise(venue_payload(iban="FR76 3000 6000 0112 3456 7890 189"))
    assert good["iban"] == "FR7630006000011234567890189"
    with pytest.raises(ValidationFailed):
        VenueInput().load_or_raise({**venue_payload(), "admin": True})


def test_search_filters_radius_and_order(repo):
    venues = []
    for place, venue_type in [
        ("bordeaux", "library"),
        ("pessac", "fablab"),
        ("arcachon", "fablab"),
    ]:
        venue = api.register_venue(
            repo, VenueInput().load(venue_payload(place, venue_type)), OPERATOR
        )
        venues.append(api.decide_accreditation(repo, venue["id"], "accredit", "ok", OPERATOR))
    api.register_venue(repo, VenueInput().load(venue_payload("merignac")), OPERATOR)  # applied only

    found, total = api.search(repo, {"near": "44.8378,-0.5792", "radius_km": 20, "limit": 50})
    assert [v["id"] for v in found] == [venues[0]["id"], venues[1]["id"]] and total == 2
    assert found[0]["distance_km"] == 0
    found, _ = api.search(repo, {"venue_type": "fablab", "limit": 50})
    assert {v["id"] for v in found} == {venues[1]["id"], venues[2]["id"]}
    found, total = api.search(repo, {"limit": 1, "offset": 1})
    assert len(found) == 1 and total == 3


def test_history_records_who_when_why(repo):
    venue = api.register_venue(repo, VenueInput().load(venue_payload()), OPERATOR)
    venue = api.decide_accreditation(repo, venue["id"], "accredit", "label obtenu", OPERATOR)
    venue = api.decide_accreditation(repo, venue["id"], "revoke", "fraude avérée", OPERATOR)
    last = venue["history"][-1]
    assert (last["from"], last["to"], last["reason"]) == ("accredited", "revoked", "fraude avérée")
    assert last["by"] == OPERATOR and last["at"].endswith("Z")
    assert venue["version"] == 3


def test_forged_ids_are_not_found(repo):
    for forged in ["ven_0123456789abcdef0123", "../x", "", "ven_" + "a" * 200, {"$ne": None}]:
        with pytest.raises(VenueNotFound):
            api.get_venue(repo, forged)
