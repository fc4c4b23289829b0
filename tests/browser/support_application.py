"""The world of issue 13's browser tests: a venue's application, printed coupons of a booklet."""

import io

from PIL import Image, ImageDraw

from services.issuance.printing import qr_code, qr_text
from tests.factories import IBANS, PLACES

APPLICANT_PASSWORD = "une candidature solide"


def application(place="merignac", **overrides):
    """What a venue's staff type in the public form."""
    where = PLACES[place]
    venue = {
        "name": f"Espace numérique du centre, {where['city']}",
        "venue_type": "public_digital_space",
        "address": "12 avenue de la Somme",
        "postcode": where["postcode"],
        "city": where["city"],
        "town_code": where["town_code"],
        "iban": IBANS[2],
        "categories": [
            "Utiliser son smartphone ou sa tablette",
            "Démarches administratives en ligne",
        ],
        "description": "Ateliers collectifs le mardi, accompagnement individuel sur rendez-vous.",
        "email": "candidature@espace-numerique.example",
        "phone": "05 56 12 34 56",
        "password": APPLICANT_PASSWORD,
    }
    venue.update(overrides)
    return venue


def printed_booklet_coupon(path, booklet, serial, code):
    """A photo-like image of one coupon of a printed booklet: the booklet's serial in text (none
    if ``booklet`` is None), the coupon's QR code (``serial:code``, what the booklet carries: its
    cover has no QR code)."""
    png = io.BytesIO()
    qr_code(qr_text(serial, code)).save(png, kind="png", scale=8, border=4)  # as printed
    qr = Image.open(png).convert("RGB")
    card = Image.new("RGB", (qr.width + 420, qr.height + 80), (250, 248, 240))
    draw = ImageDraw.Draw(card)
    draw.text((20, 30), "Chèque APTIC - Pass numérique - 10,00 EUR", fill=(20, 20, 20))
    heading = f"Carnet {booklet} - N° {serial}" if booklet else f"N° {serial}"
    draw.text((20, 60), heading, fill=(20, 20, 20))
    draw.text((20, 90), f"Code de sécurité : {code}", fill=(20, 20, 20))
    card.paste(qr, (400, 40))
    card.save(path)
    return str(path)
