"""The print file's HTML (every part of every coupon) and its QR codes; the PDF itself is
checked in tests/documents/test_issuance_print_pdf.py."""

import base64
import io
import re

from PIL import Image
from pyzbar.pyzbar import decode

from services.issuance import printing
from shared.serials import booklet_serial, coupon_serial, security_code
from tests.conftest import TEST_SECRETS

SECRET = TEST_SECRETS["OPERATOR_SECRET"]
MAP_URL = "https://pass.example.org/api/v1/map.geojson"


def booklet(sequence, per_booklet=10, first_coupon=None, face_value_cents=1000, sponsor="CD 33"):
    first = first_coupon or (sequence - 1) * per_booklet + 1
    return {
        "serial": booklet_serial(sequence),
        "sponsor_name": sponsor,
        "face_value_cents": face_value_cents,
        "coupon_serials": [coupon_serial(n) for n in range(first, first + per_booklet)],
    }


def codes_of(item):
    return {serial: security_code(SECRET, serial) for serial in item["coupon_serials"]}


def plain(text):
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


def test_html_shows_every_part_of_every_coupon():
    items = [booklet(1), booklet(2, per_booklet=5, first_coupon=11, face_value_cents=2000)]
    views = [printing.booklet_view(item, codes_of(item)) for item in items]
    html = printing.render_print_html(views, "Impression", MAP_URL)
    text = plain(html)
    for item in items:
        assert item["serial"] in html
        for serial, code in codes_of(item).items():
            assert serial in html and code in html
    assert "10,00 €" in text and "20,00 €" in text and "Offert par <b>CD 33</b>" in text
    assert text.count(printing.VALIDITY_RULE) >= 15  # every coupon and every cover
    assert MAP_URL in html
    assert html.count('class="slot coupon"') == 15 and html.count('class="slot cover"') == 2
    # the template of the fast path has the static parts only
    template = printing.render_print_html(views, "Impression", MAP_URL, template=True)
    assert "Offert par" in template and "data:image/png" not in template
    assert not any(serial in template for item in items for serial in item["coupon_serials"])


def test_qr_code_holds_serial_and_code_exactly():
    serial = coupon_serial(424)
    code = security_code(SECRET, serial)
    uri = printing.qr_data_uri(printing.qr_text(serial, code))
    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    big = image.convert("L").resize((image.width * 8, image.height * 8), Image.NEAREST)
    assert [d.data.decode() for d in decode(big)] == [f"{serial}:{code}"]
