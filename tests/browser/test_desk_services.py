"""Venue staff edit one of their services (checked again by the operator before it is offered)
and write their opening hours, which the venue's public page then shows."""

import pytest

from tests.browser.support import PASSWORD, accredited_venue

pytestmark = pytest.mark.browser

HOURS = "Mardi et jeudi : 14 h - 18 h\nSamedi : 10 h - 12 h, sur rendez-vous"


def test_venue_staff_edit_a_service_and_set_opening_hours(rpc, stack_config, browse):
    venue, service = accredited_venue(rpc, stack_config, "bordeaux")
    email = "accueil@epn-bordeaux.example"
    rpc("web").create_user(email, "venue", venue["id"], PASSWORD)
    seen = browse(
        "desk_edits_services",
        email=email,
        password=PASSWORD,
        venue_id=venue["id"],
        service_id=service["id"],
        hours=HOURS,
    )
    assert "Le service « Démarches en ligne, niveau 2 » est modifié." in seen["edited"]
    assert "L'équipe APTIC le vérifie" in seen["edited"]
    stored = rpc("catalog").get_venue(venue["id"], public=False)
    (edited,) = stored["services"]
    assert (edited["id"], edited["title"], edited["duration_minutes"]) == (
        service["id"],
        "Démarches en ligne, niveau 2",
        150,
    )
    assert edited["status"] == "pending" and edited["history"][-1]["reason"] == "edited"
    assert edited["history"][-1]["by"]["label"] == f"web: {email}"
    assert "Les horaires sont enregistrés." in seen["hours_saved"]
    assert stored["opening_hours"] == HOURS
    # the public page: the hours as written, no longer "sur rendez-vous"; the edited service
    # is not offered until the operator checks it again
    assert "Mardi et jeudi : 14 h - 18 h\nSamedi : 10 h - 12 h, sur rendez-vous" in seen["public"]
    assert "Les ateliers ont lieu sur rendez-vous" not in seen["public"]
    assert "Démarches en ligne, niveau 2" not in seen["public"]
