"""The catalog service on the real RabbitMQ: RPC calls and the events other services rely on."""

import re
from datetime import datetime

import pytest
from nameko.events import event_handler
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_waiter

from services.catalog.service import CatalogService
from shared.contracts.schemas_catalog import VenueChanged
from shared.errors import ValidationFailed
from shared.mongo import database_name, get_client
from shared.times import iso
from tests.factories import service_payload, venue_payload

pytestmark = pytest.mark.integration

OPERATOR = {"role": "operator", "key_id": "key_test", "subject_id": None, "label": "test"}


class Listener:
    """Stands for the services that consume catalog events (redemption, settlement)."""

    name = "catalog_listener"
    received = []

    @event_handler("catalog", "venue_accredited")
    def on_accredited(self, payload):
        self.received.append(("venue_accredited", payload))

    @event_handler("catalog", "venue_suspended")
    def on_suspended(self, payload):
        self.received.append(("venue_suspended", payload))

    @event_handler("catalog", "venue_updated")
    def on_updated(self, payload):
        self.received.append(("venue_updated", payload))


@pytest.fixture
def catalog(container_factory, service_config):
    Listener.received = []
    container_factory(CatalogService, service_config).start()
    listener = container_factory(Listener, service_config)
    listener.start()
    with ServiceRpcProxy("catalog", service_config) as proxy:
        yield proxy, listener


def test_accreditation_events_carry_what_other_services_need(catalog):
    proxy, listener = catalog
    venue = proxy.register_venue(venue_payload("pessac", "fablab"), OPERATOR)
    with entrypoint_waiter(listener, "on_accredited"):
        proxy.decide_accreditation(
            venue["id"], {"decision": "accredit", "reason": "label ok"}, OPERATOR
        )
    venue_key = {"role": "venue", "key_id": "key_v", "subject_id": venue["id"], "label": None}
    with entrypoint_waiter(listener, "on_updated"):
        service = proxy.add_service(venue["id"], service_payload("digital_parenting"), venue_key)
    assert service["status"] == "pending"
    with entrypoint_waiter(listener, "on_updated"):
        approved = proxy.approve_service(
            venue["id"], service["id"], {"reason": "programme vérifié"}, OPERATOR
        )
    assert approved["status"] == "approved"
    assert [h["to"] for h in approved["history"]] == ["pending", "approved"]
    with entrypoint_waiter(listener, "on_suspended"):
        proxy.decide_accreditation(
            venue["id"], {"decision": "suspend", "reason": "audit"}, OPERATOR
        )

    kinds = [kind for kind, _ in Listener.received]
    assert kinds == ["venue_accredited", "venue_updated", "venue_updated", "venue_suspended"]
    accredited = VenueChanged().load(Listener.received[0][1])
    assert accredited["venue_type"] == "fablab" and accredited["department"] == "33"
    assert accredited["town_code"] == "33318" and accredited["status"] == "accredited"
    assert accredited["iban"].startswith("FR76") or accredited["iban"].startswith("FR")
    pending = Listener.received[1][1]  # a pending service is not offered: not redeemable
    assert pending["categories"] == [] and pending["services"] == []
    updated = Listener.received[2][1]
    assert updated["categories"] == ["digital_parenting"]
    assert updated["services"] == [
        {"service_id": service["id"], "category": "digital_parenting", "price_coupons": 1}
    ]
    versions = [payload["version"] for _, payload in Listener.received]
    assert versions == sorted(versions) and len(set(versions)) == 4


def test_invalid_payload_is_refused_and_changes_nothing(catalog):
    proxy, _ = catalog
    with pytest.raises(ValidationFailed) as caught:
        proxy.register_venue({**venue_payload(), "location": {"lat": "north"}}, OPERATOR)
    assert "location" in caught.value.details["fields"]
    assert proxy.search_venues({}) == {"total": 0, "limit": 50, "offset": 0, "venues": []}
    assert proxy.health()["store"] is True


def test_times_are_stored_as_dates_and_answered_as_iso_text(catalog, service_config):
    proxy, listener = catalog
    venue = proxy.register_venue(venue_payload(), OPERATOR)
    with entrypoint_waiter(listener, "on_accredited"):
        answer = proxy.decide_accreditation(
            venue["id"], {"decision": "accredit", "reason": "label ok"}, OPERATOR
        )
    raw = get_client(service_config["MONGO_URI"])[database_name(service_config, "catalog")]
    stored = raw.venues.find_one({"id": venue["id"]})
    assert type(stored["created_at"]) is datetime
    assert all(type(entry["at"]) is datetime for entry in stored["history"])
    found = proxy.get_venue(venue["id"], False)
    assert found["created_at"] == venue["created_at"] == iso(stored["created_at"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", found["created_at"])
    assert [h["at"] for h in found["history"]] == [h["at"] for h in answer["history"]]
    assert [h["at"] for h in found["history"]] == [iso(h["at"]) for h in stored["history"]]


def test_near_search_answers_the_public_shape_with_database_distances(catalog):
    proxy, listener = catalog
    ids = []
    for place in ["libourne", "bordeaux", "merignac"]:
        venue = proxy.register_venue(venue_payload(place), OPERATOR)
        with entrypoint_waiter(listener, "on_accredited"):
            proxy.decide_accreditation(
                venue["id"], {"decision": "accredit", "reason": "label ok"}, OPERATOR
            )
        ids.append(venue["id"])

    answer = proxy.search_venues({"near": "44.8378,-0.5792", "radius_km": 40, "limit": 2})
    assert answer["total"] == 3
    assert [v["id"] for v in answer["venues"]] == [ids[1], ids[2]]
    assert [v["distance_km"] for v in answer["venues"]] == [0, pytest.approx(5.1, abs=0.1)]
    first = answer["venues"][0]
    assert first["location"] == {"lat": 44.8378, "lon": -0.5792}
    assert set(first) == {
        "id", "name", "address", "postcode", "city", "town_code", "department", "location",
        "venue_type", "status", "categories", "services", "distance_km", "opening_hours",
    }  # fmt: skip
    assert (answer["limit"], answer["offset"]) == (2, 0)
    rest = proxy.search_venues({"near": "44.8378,-0.5792", "radius_km": 40, "offset": 2})
    assert [v["id"] for v in rest["venues"]] == [ids[0]] and rest["total"] == 3
    assert (rest["limit"], rest["offset"]) == (50, 2)
    with pytest.raises(ValidationFailed):  # no silent cap: a page larger than 500 is refused
        proxy.search_venues({"limit": 501})
    assert "distance_km" not in proxy.search_venues({})["venues"][0]
