"""Venue staff log in, type one coupon and scan another from a photo of a printed coupon, see the
refusal of a third, redeem the two in one go (a double tap redeems nothing twice), void it."""

import io

import pytest
from PIL import Image

from shared.mongo import get_database
from tests.browser.support import PASSWORD, accredited_venue, coupons
from tests.browser.support_application import printed_booklet_coupon

pytestmark = pytest.mark.browser


def printed_coupon(path, serial, code):
    """A photo-like image of a printed coupon: text around its QR code (``serial:code``)."""
    return printed_booklet_coupon(path, None, serial, code)


def test_venue_staff_type_scan_redeem_and_void(rpc, stack_config, browse, tmp_path):
    venue, service = accredited_venue(rpc, stack_config, "bordeaux")
    email = "mediatrice@epn-bordeaux.example"
    rpc("web").create_user(email, "venue", venue["id"], PASSWORD)
    (s1, c1), (s2, c2), (s3, _), (_, c4), _ = coupons(stack_config)
    seen = browse(
        "desk_redeems",
        email=email,
        password=PASSWORD,
        service_id=service["id"],
        coupons=[[s1, c1], [s2, None], [s3, None]],
        wrong_code=c4,
        photo=printed_coupon(tmp_path / "coupon.png", s2, c2),
    )
    assert seen["outcomes"] == [
        "Valable : 10,00\xa0€",
        "Valable : 10,00\xa0€",
        "Refusé : Le code de sécurité ne correspond pas à ce chèque.",
    ]
    assert "2 chèques encaissés : 20,00\xa0€" in seen["confirmed"]
    assert s1 in seen["confirmed"] and s2 in seen["confirmed"]
    assert seen["rating_link"].startswith(stack_config["PUBLIC_WEB_URL"] + "/avis/")
    assert seen["rows"] == 1  # the retry answered the first redemption
    store = get_database(stack_config, "redemption")
    assert store.redemptions.count_documents({}) == 1
    assert store.redemptions.find_one({"id": seen["redemption_id"]})["status"] == "voided"
    assert "L'encaissement est annulé" in seen["after_void"]
    assert "Annulé" in seen["after_void"]
    assert "Premiers pas sur smartphone" in seen["services"]


def filmed(path, photo):
    """An MJPEG file (JPEG frames end to end): the coupon held up to the camera, its QR code in
    the middle of the picture, as the desk's viewfinder asks."""
    coupon = Image.open(photo).convert("RGB")
    near = coupon.crop((340, 0, coupon.width, coupon.height))  # the QR code's side of the coupon
    picture = Image.new("RGB", (640, 480), (120, 110, 100))
    picture.paste(near, ((640 - near.width) // 2, (480 - near.height) // 2))
    frame = io.BytesIO()
    picture.save(frame, "JPEG", quality=90)
    path.write_bytes(frame.getvalue() * 30)
    return str(path)


def test_a_coupon_filmed_by_the_camera(rpc, stack_config, browse, tmp_path):
    venue, _ = accredited_venue(rpc, stack_config, "merignac")
    email = "accueil@epn-merignac.example"
    rpc("web").create_user(email, "venue", venue["id"], PASSWORD)
    ((serial, code),) = coupons(stack_config, count=1)
    photo = printed_coupon(tmp_path / "coupon.png", serial, code)
    seen = browse(
        "desk_camera",
        email=email,
        password=PASSWORD,
        serial=serial,
        camera=filmed(tmp_path / "coupon.mjpeg", photo),
    )
    assert seen["code"] == code
    assert seen["outcomes"] == ["Valable : 10,00\xa0€"]
