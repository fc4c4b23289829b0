"""A venue applies itself (catalog's ``apply_venue``, behind the public form): always applied,
the department read from its town code, what it said kept for the operator; bad input refused."""

import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from services.catalog.service import CatalogService
from shared.errors import ValidationFailed
from tests.factories import venue_payload

pytestmark = pytest.mark.integration

OPERATOR = {"role": "operator", "key_id": "key_test", "subject_id": None, "label": "test"}


def application(**overrides):
    payload = venue_payload("pessac")
    del payload["department"]
    payload.update(
        contact_email="contact@epn-pessac.example",
        phone="05 56 00 00 00",
        description="Un espace public numérique au centre-ville.",
        offered_categories=["online_admin_procedures", "smartphone_use", "smartphone_use"],
    )
    payload.update(overrides)
    return payload


@pytest.fixture
def catalog(container_factory, service_config):
    container_factory(CatalogService, service_config).start()
    with ServiceRpcProxy("catalog", service_config) as proxy:
        yield proxy


def test_an_application_is_an_applied_venue_the_operator_accredits(catalog):
    venue = catalog.apply_venue(application())
    assert venue["status"] == "applied"
    assert venue["department"] == "33"  # from the town code 33318
    assert venue["application"] == {
        "contact_email": "contact@epn-pessac.example",
        "phone": "05 56 00 00 00",
        "description": "Un espace public numérique au centre-ville.",
        "offered_categories": ["online_admin_procedures", "smartphone_use"],
    }
    assert venue["history"][0]["to"] == "applied"
    assert venue["history"][0]["by"]["label"] == "public application"
    with pytest.raises(Exception) as hidden:  # not on the map until accredited
        catalog.get_venue(venue["id"], public=True)
    assert "venue_not_found" in str(hidden.value)
    catalog.decide_accreditation(
        venue["id"], {"decision": "accredit", "reason": "visite faite"}, OPERATOR
    )
    public = catalog.get_venue(venue["id"], public=True)
    assert public["status"] == "accredited"
    assert "application" not in public and "iban" not in public


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"status": "accredited"}, "status"),  # no way to apply accredited
        ({"iban": "FR7630006000011234567890188"}, "iban"),  # a wrong check digit
        ({"postcode": "3360"}, "postcode"),
        ({"phone": "appelez-moi"}, "phone"),
        ({"contact_email": "pas une adresse"}, "contact_email"),
        ({"offered_categories": []}, "offered_categories"),
        ({"offered_categories": ["astrology"]}, "offered_categories"),
        ({"description": "x" * 1001}, "description"),
        ({"department": "75"}, "department"),  # not the town's
        ({"siret": "12345678901234"}, "siret"),
    ],
)
def test_bad_applications_are_refused(catalog, overrides, field):
    with pytest.raises(ValidationFailed) as refused:
        catalog.apply_venue(application(**overrides))
    assert field in refused.value.details["fields"], refused.value.details
