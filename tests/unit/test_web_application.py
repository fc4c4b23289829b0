"""The public application form's reading (values, the catalog's payload, where the venue is) and
the distributor's desk's reading of a scanned or typed coupon (its assigned booklet)."""

from werkzeug.datastructures import MultiDict

from services.web.pages.application import application_payload, application_values
from services.web.pages.distributor import booklet_of
from shared.serials import booklet_serial, coupon_serial

FEATURES = [  # an accredited venue of Mérignac, as catalog's map_geojson gives it
    {
        "geometry": {"coordinates": [-0.6436, 44.8386]},
        "properties": {"postcode": "33700", "city": "Mérignac"},
    }
]


def form(**fields):
    base = {
        "name": "  Espace   numérique ",
        "venue_type": "library",
        "address": "12 avenue de la Somme",
        "postcode": "33700",
        "city": "Mérignac",
        "town_code": "33281",
        "iban": "fr14 2004 1010 0505 0001 3m02 606",
        "siret": "",
        "contact_email": "Contact@Example.ORG",
        "phone": "05 56 12 34 56",
        "description": "Ateliers",
    }
    base.update(fields)
    data = MultiDict(base)
    for category in ("smartphone_use", "astrology", "online_health"):
        data.add("offered_categories", category)
    return data


def test_the_form_is_read_tidied_and_cut_one_past_the_limits():
    values = application_values(form(city="x" * 500))
    assert values["name"] == "Espace numérique"
    assert values["iban"] == "FR1420041010050500013M02606"
    assert values["contact_email"] == "contact@example.org"
    assert values["offered_categories"] == ["smartphone_use", "online_health"]  # known ones only
    assert len(values["city"]) == 101  # the catalog refuses it rather than a silent cut


def test_a_venue_is_placed_by_the_browser_then_its_postcode_then_its_department():
    payload, errors = application_payload(application_values(form(lat="44.9", lon="-0.6")), [])
    assert not errors and payload["location"] == {"lat": 44.9, "lon": -0.6}
    assert payload["siret"] is None
    payload, errors = application_payload(application_values(form()), FEATURES)
    assert not errors and payload["location"] == {"lat": 44.8386, "lon": -0.6436}
    payload, errors = application_payload(application_values(form(postcode="33120")), FEATURES)
    assert not errors and payload["location"] == {"lat": 44.8386, "lon": -0.6436}  # same dept
    _, errors = application_payload(application_values(form(postcode="75011")), FEATURES)
    assert errors == {"location": "unknown"}


def test_a_scanned_or_typed_coupon_stands_for_its_assigned_booklet():
    booklets = [
        {
            "serial": booklet_serial(2),
            "first_coupon_serial": coupon_serial(11),
            "last_coupon_serial": coupon_serial(20),
        }
    ]
    assert booklet_of(booklet_serial(2).lower(), booklets) == (booklet_serial(2), None)
    assert booklet_of(coupon_serial(15), booklets) == (booklet_serial(2), None)
    assert booklet_of(f"{coupon_serial(20)}:ABCDEFGH", booklets) == (booklet_serial(2), None)
    assert booklet_of(coupon_serial(21), booklets) == (coupon_serial(21), "coupon_not_assigned")
    assert booklet_of("12345", booklets) == ("12345", None)  # issuance says what is wrong
