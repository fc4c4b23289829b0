"""Catalog's list_venues on the real RabbitMQ: the operator's lists of venues by status (those
awaiting accreditation first), oldest first, paged and counted, with details and history."""

import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from services.catalog.service import CatalogService
from shared.errors import ValidationFailed
from tests.factories import venue_payload

pytestmark = pytest.mark.integration

OPERATOR = {"role": "operator", "key_id": "key_test", "subject_id": None, "label": "test"}


@pytest.fixture
def catalog(container_factory, service_config):
    container_factory(CatalogService, service_config).start()
    with ServiceRpcProxy("catalog", service_config) as proxy:
        yield proxy


def test_venues_are_listed_by_status_oldest_first_a_page_at_a_time(catalog):
    places = ["bordeaux", "pessac", "merignac", "libourne"]
    venues = [catalog.register_venue(venue_payload(place), OPERATOR) for place in places]
    catalog.decide_accreditation(
        venues[1]["id"], {"decision": "accredit", "reason": "visite faite"}, OPERATOR
    )
    catalog.decide_accreditation(
        venues[2]["id"], {"decision": "revoke", "reason": "hors du dispositif"}, OPERATOR
    )

    applied = catalog.list_venues({})  # the default: those awaiting accreditation
    assert (applied["total"], applied["limit"], applied["offset"]) == (2, 50, 0)
    assert [v["id"] for v in applied["venues"]] == [venues[0]["id"], venues[3]["id"]]
    first = applied["venues"][0]
    assert first["status"] == "applied" and first["iban"] == venues[0]["iban"]
    assert [h["to"] for h in first["history"]] == ["applied"]

    page = catalog.list_venues({"status": "applied", "limit": 1, "offset": 1})
    assert page["total"] == 2 and [v["id"] for v in page["venues"]] == [venues[3]["id"]]

    accredited = catalog.list_venues({"status": "accredited"})["venues"]
    assert [v["id"] for v in accredited] == [venues[1]["id"]]
    assert [(h["to"], h["reason"]) for h in accredited[0]["history"]] == [
        ("applied", "registered"),
        ("accredited", "visite faite"),
    ]
    revoked = catalog.list_venues({"status": "revoked"})
    assert revoked["total"] == 1 and revoked["venues"][0]["id"] == venues[2]["id"]
    assert catalog.list_venues({"status": "suspended"}) == {
        "total": 0,
        "limit": 50,
        "offset": 0,
        "venues": [],
    }


def test_an_unknown_status_or_page_is_refused(catalog):
    with pytest.raises(ValidationFailed) as caught:
        catalog.list_venues({"status": "pending"})
    assert "status" in caught.value.details["fields"]
    with pytest.raises(ValidationFailed):
        catalog.list_venues({"limit": 0})
