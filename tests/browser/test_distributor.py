"""Distributor staff log in, see the booklets assigned to their structure, hand one to a
beneficiary with the anonymous profile, and are refused, in French, a booklet not theirs."""

import pytest

from shared.mongo import get_database
from tests.browser.support import PASSWORD, distributor_with_booklets

pytestmark = pytest.mark.browser


def test_distributor_hands_a_booklet_out(rpc, stack_config, browse):
    distributor, (mine, other) = distributor_with_booklets(rpc)
    email = "accueil@ccas-pessac.example"
    rpc("web").create_user(email, "distributor", distributor["id"], PASSWORD)
    seen = browse("distributor_hands_out", email=email, password=PASSWORD, serials=[mine, other])
    assert mine in seen["before"] and "À remettre" in seen["before"]
    assert other not in seen["before"]  # still with the sponsor
    assert f"Le carnet {mine} est remis" in seen["handed"]
    assert "Remis à un bénéficiaire" in seen["after"]
    assert seen["refused"] == (
        "Refusé : Ce carnet n'a pas été confié à votre structure : vous ne pouvez pas le remettre."
    )
    assert seen["forged_status"] == 403
    booklets = get_database(stack_config, "issuance").booklets
    activated = [b for b in booklets.find({}) if b.get("status") == "activated"]
    assert [b["profile"] for b in activated] == [
        {"age_band": "56_65", "public_category": "job_seeker", "postcode": "33600"}
    ]
