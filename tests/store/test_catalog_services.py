"""A venue's new service is checked before it is offered: pending until the operator approves it,
refused with a reason, each decision in the service's history; only approved services reach the
public search, the map and the venue events redemption learns from."""

import pytest

from services.catalog import api, domain
from services.catalog.store import CatalogRepository
from shared.contracts.errors_catalog import InvalidServiceTransition, NotYours, ServiceNotFound
from shared.contracts.schemas_catalog import (
    OpeningHoursInput,
    ServiceDetailOut,
    ServiceQuery,
    ServiceRefusalInput,
    VenueDetailOut,
    VenueInput,
    VenueOut,
)
from shared.errors import Forbidden, ValidationFailed
from shared.mongo import get_database
from shared.outbox import OUTBOX_FIELD
from tests.factories import service_payload, venue_payload

OPERATOR = {"role": "operator", "key_id": "key_op", "subject_id": None, "label": None}


def venue_actor(venue_id):
    return {"role": "venue", "key_id": "key_ven", "subject_id": venue_id, "label": None}


@pytest.fixture
def db(mongo_config):
    return get_database(mongo_config, "catalog", tz_aware=True)


@pytest.fixture
def repo(db):
    CatalogRepository.ensure_indexes(db)
    return CatalogRepository(db)


def accredited_venue(repo, town="bordeaux"):
    venue = api.register_venue(repo, VenueInput().load(venue_payload(town)), OPERATOR)
    return api.decide_accreditation(repo, venue["id"], "accredit", "label APTIC", OPERATOR)


def last_event(db, venue_id):
    """The last event the catalog put in the venue's outbox (what redemption would receive)."""
    return db.venues.find_one({"id": venue_id})[OUTBOX_FIELD][-1]


def offered_ids(event):
    return [s["service_id"] for s in event["payload"]["services"]]


@pytest.mark.parametrize(
    "current, decision, expected",
    [
        ("pending", "approve", "approved"),
        ("pending", "refuse", "refused"),
        ("refused", "approve", "approved"),
        ("approved", "refuse", "refused"),
    ],
)
def test_allowed_service_decisions(current, decision, expected):
    assert domain.next_service_status(current, decision) == expected


@pytest.mark.parametrize("current, decision", [("approved", "approve"), ("refused", "refuse")])
def test_a_decision_that_changes_nothing_is_a_conflict(current, decision):
    with pytest.raises(InvalidServiceTransition) as error:
        domain.next_service_status(current, decision)
    assert error.value.code == "invalid_service_transition"
    assert error.value.details == {"status": current, "decision": decision}


def test_who_adds_decides_the_first_status():
    assert domain.status_when_added(venue_actor("ven_1")) == "pending"
    assert domain.status_when_added(None) == "pending"  # an internal caller that says not who
    assert domain.status_when_added(OPERATOR) == "approved"


def test_a_service_stored_before_approvals_is_offered():
    legacy = {"id": "svc_old", "category": "online_safety", "price_coupons": 1}
    assert domain.service_status(legacy) == "approved"
    venue = {"services": [legacy, {**legacy, "id": "svc_new", "status": "pending"}]}
    assert [s["id"] for s in domain.offered_services(venue)] == ["svc_old"]
    assert ServiceDetailOut().dump(legacy)["status"] == "approved"


def test_a_venue_service_is_offered_only_once_approved(repo, db):
    venue = accredited_venue(repo)
    actor = venue_actor(venue["id"])
    _, service = api.add_service(repo, venue["id"], service_payload("online_safety"), actor)
    assert service["status"] == "pending"
    assert service["history"][0]["to"] == "pending" and service["history"][0]["by"] == actor

    # not in the venue event redemption learns from, nor in search, map or public page
    event = last_event(db, venue["id"])
    assert event["event_type"] == "venue_updated"
    assert offered_ids(event) == [] and event["payload"]["categories"] == []
    assert api.search(repo, {"category": "online_safety"}) == ([], 0)
    found, _ = api.search(repo, {"department": "33"})
    assert [v["id"] for v in found] == [venue["id"]] and found[0]["services"] == []
    assert api.geojson(repo.find_accredited())["features"][0]["properties"]["services"] == []
    assert domain.public_view(api.get_venue(repo, venue["id"]))["services"] == []
    # the operator (and the venue itself) see it, with its status
    detail = VenueDetailOut().dump(api.get_venue(repo, venue["id"]))
    assert [(s["id"], s["status"]) for s in detail["services"]] == [(service["id"], "pending")]

    updated, approved = api.decide_service(
        repo, venue["id"], service["id"], "approve", "programme vérifié", OPERATOR
    )
    assert approved["status"] == "approved"
    assert [(h["from"], h["to"], h["reason"], h["by"]) for h in approved["history"]] == [
        (None, "pending", "added", actor),
        ("pending", "approved", "programme vérifié", OPERATOR),
    ]
    event = last_event(db, venue["id"])
    assert event["payload"]["version"] == updated["version"]
    assert offered_ids(event) == [service["id"]]
    assert event["payload"]["services"][0]["category"] == "online_safety"
    assert event["payload"]["categories"] == ["online_safety"]
    found, total = api.search(repo, {"category": "online_safety"})
    assert total == 1 and [s["id"] for s in found[0]["services"]] == [service["id"]]
    features = api.geojson(repo.find_accredited())["features"]
    assert [s["id"] for s in features[0]["properties"]["services"]] == [service["id"]]


def test_a_refusal_keeps_its_reason_and_withdraws_the_offer(repo, db):
    venue = accredited_venue(repo)
    _, kept = api.add_service(repo, venue["id"], service_payload("smartphone_use"), OPERATOR)
    _, service = api.add_service(
        repo, venue["id"], service_payload("online_safety"), venue_actor(venue["id"])
    )
    api.decide_service(repo, venue["id"], service["id"], "approve", None, OPERATOR)
    assert sorted(offered_ids(last_event(db, venue["id"]))) == sorted([kept["id"], service["id"]])

    _, refused = api.decide_service(
        repo, venue["id"], service["id"], "refuse", "hors du champ du dispositif", OPERATOR
    )
    assert refused["status"] == "refused"
    assert refused["history"][-1]["reason"] == "hors du champ du dispositif"
    event = last_event(db, venue["id"])
    assert offered_ids(event) == [kept["id"]] and event["payload"]["categories"] == [
        "smartphone_use"
    ]
    assert api.search(repo, {"category": "online_safety"}) == ([], 0)
    with pytest.raises(InvalidServiceTransition):
        api.decide_service(repo, venue["id"], service["id"], "refuse", "encore", OPERATOR)
    with pytest.raises(ValidationFailed):
        ServiceRefusalInput().load_or_raise({})  # a refusal says why


def test_unknown_services_are_not_found(repo):
    venue = accredited_venue(repo)
    with pytest.raises(ServiceNotFound) as error:
        api.decide_service(repo, venue["id"], "svc_nope", "approve", None, OPERATOR)
    assert error.value.code == "service_not_found"


def test_the_pending_list_is_paged_and_counted_by_the_database(repo):
    first, second = accredited_venue(repo, "bordeaux"), accredited_venue(repo, "merignac")
    added = []
    for venue, category in [
        (first, "online_safety"),
        (second, "smartphone_use"),
        (first, "digital_parenting"),
    ]:
        _, service = api.add_service(
            repo, venue["id"], service_payload(category), venue_actor(venue["id"])
        )
        added.append(service["id"])
    api.add_service(repo, first["id"], service_payload(), OPERATOR)  # approved: not listed

    query = ServiceQuery().load({"limit": "2"})
    page, total = api.services_by_status(repo, query)
    assert total == 3 and [s["id"] for s in page] == added[:2]  # oldest first
    assert page[1]["venue_id"] == second["id"] and page[1]["venue_name"] == second["name"]
    page, total = api.services_by_status(repo, {**query, "offset": 2})
    assert total == 3 and [s["id"] for s in page] == added[2:]

    api.decide_service(repo, second["id"], added[1], "refuse", "doublon", OPERATOR)
    page, total = api.services_by_status(repo, ServiceQuery().load({}))
    assert total == 2 and [s["id"] for s in page] == [added[0], added[2]]
    page, total = api.services_by_status(repo, ServiceQuery().load({"status": "refused"}))
    assert total == 1 and page[0]["id"] == added[1] and page[0]["status"] == "refused"
    with pytest.raises(ValidationFailed):
        ServiceQuery().load_or_raise({"status": "approved"})


def test_a_venue_edit_is_checked_again_an_operator_edit_stays_offered(repo, db):
    venue = accredited_venue(repo)
    actor = venue_actor(venue["id"])
    _, service = api.add_service(repo, venue["id"], service_payload("online_safety"), actor)
    api.decide_service(repo, venue["id"], service["id"], "approve", None, OPERATOR)
    assert offered_ids(last_event(db, venue["id"])) == [service["id"]]

    changed = service_payload("smartphone_use", title="Prendre en main son téléphone")
    updated, edited = api.edit_service(repo, venue["id"], service["id"], changed, actor)
    assert edited["status"] == "pending" and edited["title"] == "Prendre en main son téléphone"
    assert edited["category"] == "smartphone_use" and edited["id"] == service["id"]
    assert (edited["history"][-1]["from"], edited["history"][-1]["to"]) == ("approved", "pending")
    assert edited["history"][-1]["reason"] == "edited" and edited["history"][-1]["by"] == actor
    # redemption learns it is no longer offered; search no longer finds it
    event = last_event(db, venue["id"])
    assert event["payload"]["version"] == updated["version"]
    assert offered_ids(event) == [] and event["payload"]["categories"] == []
    assert api.search(repo, {"category": "smartphone_use"}) == ([], 0)

    api.decide_service(repo, venue["id"], service["id"], "approve", None, OPERATOR)
    by_operator = service_payload("smartphone_use", title="Téléphone, niveau 1", price_coupons=2)
    _, edited = api.edit_service(repo, venue["id"], service["id"], by_operator, OPERATOR)
    assert edited["status"] == "approved" and edited["price_coupons"] == 2
    assert (edited["history"][-1]["to"], edited["history"][-1]["reason"]) == ("approved", "edited")
    event = last_event(db, venue["id"])
    assert offered_ids(event) == [service["id"]]
    assert event["payload"]["services"][0]["price_coupons"] == 2
    assert [len(v["services"]) for v in api.search(repo, {"category": "smartphone_use"})[0]] == [1]


def test_only_the_venue_or_the_operator_edits_and_unknown_services_are_not_found(repo, db):
    venue = accredited_venue(repo)
    other = accredited_venue(repo, "pessac")
    _, service = api.add_service(repo, venue["id"], service_payload(), OPERATOR)
    before = api.get_venue(repo, venue["id"])
    for actor in (venue_actor(other["id"]), {**OPERATOR, "role": "sponsor", "subject_id": "spo_1"}):
        with pytest.raises(NotYours) as error:
            api.edit_service(repo, venue["id"], service["id"], service_payload(), actor)
        assert error.value.code == "not_yours" and isinstance(error.value, Forbidden)
        with pytest.raises(NotYours):
            api.set_opening_hours(repo, venue["id"], {"opening_hours": "Lundi"}, actor)
    assert api.get_venue(repo, venue["id"]) == before  # nothing written
    with pytest.raises(ServiceNotFound) as error:
        api.edit_service(repo, venue["id"], "svc_nope", service_payload(), OPERATOR)
    assert error.value.code == "service_not_found"


def test_opening_hours_are_kept_shown_to_the_public_and_removed_when_blank(repo):
    data = VenueInput().load({**venue_payload("bordeaux"), "opening_hours": "Lundi 9 h - 12 h"})
    venue = api.register_venue(repo, data, OPERATOR)
    assert venue["opening_hours"] == "Lundi 9 h - 12 h"
    hours = "Mardi et jeudi, 14 h - 18 h\nSamedi matin sur rendez-vous"
    updated = api.set_opening_hours(
        repo,
        venue["id"],
        OpeningHoursInput().load({"opening_hours": hours}),
        venue_actor(venue["id"]),
    )
    assert updated["opening_hours"] == hours
    assert VenueOut().dump(domain.public_view(updated))["opening_hours"] == hours
    cleared = api.set_opening_hours(repo, venue["id"], {"opening_hours": "  "}, OPERATOR)
    assert cleared["opening_hours"] is None
    with pytest.raises(ValidationFailed):
        OpeningHoursInput().load_or_raise({"opening_hours": "x" * 501})
    with pytest.raises(ValidationFailed):
        OpeningHoursInput().load_or_raise({"opening_hours": "Lundi\x07"})
    assert VenueInput().load(venue_payload("pessac"))["opening_hours"] is None
