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


def test_distributor_scans_booklets_from_a_photo_and_the_camera(
    rpc, stack_config, browse, tmp_path
):
    """What a printed booklet carries to scan is its coupons' QR codes: a photo of one coupon
    finds and hands out its booklet; another booklet is filmed by the camera; a coupon of a
    booklet not assigned, typed, is refused in French."""
    from shared.serials import security_code
    from tests.browser.support_application import printed_booklet_coupon
    from tests.browser.test_desk import filmed

    distributor, (first, second, kept) = distributor_with_booklets(rpc, booklets=3)
    as_sponsor = {
        "role": "sponsor",
        "key_id": None,
        "subject_id": distributor["sponsor_id"],
        "label": "test",
    }
    rpc("issuance").assign_booklet(second, {"distributor_id": distributor["id"]}, as_sponsor)
    booklets = get_database(stack_config, "issuance").booklets
    coupons = {b["serial"]: b["coupon_serials"] for b in booklets.find({})}
    secret = stack_config["OPERATOR_SECRET"]
    email = "accueil@ccas-pessac.example"
    rpc("web").create_user(email, "distributor", distributor["id"], PASSWORD)

    coupon = coupons[first][3]  # the fourth coupon of the first booklet
    photo = printed_booklet_coupon(
        tmp_path / "coupon.png", first, coupon, security_code(secret, coupon)
    )
    seen = browse(
        "distributor_scans",
        email=email,
        password=PASSWORD,
        photo=photo,
        booklet=first,
        typed_coupon=coupons[kept][0],
    )
    assert seen["scanned"] == f"Carnet trouvé : {first}"
    assert f"Le carnet {first} est remis" in seen["handed"]
    assert (
        "Refusé : Ce chèque n'appartient à aucun carnet confié à votre structure"
        in seen["typed_coupon"]
    )

    coupon = coupons[second][0]
    photo = printed_booklet_coupon(
        tmp_path / "second.png", second, coupon, security_code(secret, coupon)
    )
    seen = browse(
        "distributor_scans",
        email=email,
        password=PASSWORD,
        camera=filmed(tmp_path / "second.mjpeg", photo),
        booklet=second,
    )
    assert f"Le carnet {second} est remis" in seen["handed"]
    statuses = {b["serial"]: b["status"] for b in booklets.find({})}
    assert statuses == {first: "activated", second: "activated", kept: "dispatched"}
    assert booklets.find_one({"serial": first})["profile"] == {"age_band": "26_35"}
