"""The public finds a venue near a town, or near them, on the map page, and opens its page; the
list works when map tiles cannot load, and without JavaScript."""

import pytest

from tests.browser.support import accredited_venue

pytestmark = pytest.mark.browser


@pytest.fixture
def venues(rpc, stack_config):
    made = {}
    for place in ("bordeaux", "merignac", "pessac", "libourne"):
        made[place], _ = accredited_venue(rpc, stack_config, place)
    return {
        "names": {place: venue["name"] for place, venue in made.items()},
        "ids": {place: venue["id"] for place, venue in made.items()},
        "venues": made,
    }


def test_the_public_finds_a_venue_near_a_town_and_opens_its_page(venues, browse):
    seen = browse("find_near_town", names=venues["names"], ids=venues["ids"])
    merignac = venues["venues"]["merignac"]
    assert merignac["address"] in seen["venue_text"] and "33700 Mérignac" in seen["venue_text"]
    assert "Atelier démarches en ligne" in seen["venue_text"]
    assert "Durée : 120 minutes" in seen["venue_text"] and "Horaires" in seen["venue_text"]
    assert seen["empty"] == []


def test_near_me_and_without_javascript(venues, browse):
    seen = browse("near_me_and_without_javascript", names=venues["names"])
    assert seen["without_js"][0] == venues["names"]["bordeaux"]
