"""Beneficiaries rate their workshop: the link given at the desk (and its QR code), and the
check of a rating. The link names the redemption and carries an HMAC of it: nobody can rate a
redemption they were not given, and nothing in it says who the person is."""

import segno

from services.web import accounts

SCORES = (1, 2, 3, 4, 5)
MAX_COMMENT = 500


def signature(settings, redemption_id):
    return accounts.sign(settings.secret, "rating", redemption_id)


def link(settings, redemption_id):
    base = settings.public_url.rstrip("/")
    return f"{base}/avis/{redemption_id}/{signature(settings, redemption_id)}"


def genuine(settings, redemption_id, given):
    return accounts.same(given, signature(settings, redemption_id))


def qr_svg(text):
    """The QR code of ``text`` as an inline SVG (drawn by the page, printed on the slip): error
    correction M, a border of 2 modules, sized in millimetres on a white ground."""
    return segno.make_qr(text, error="m").svg_inline(border=2, unit="mm", light="white")


def read_rating(form):
    """``(score, comment)`` from the rating form, or ``(None, comment)`` if no score was chosen."""
    try:
        score = int(form.get("score") or 0)
    except ValueError:
        score = 0
    comment = " ".join((form.get("comment") or "").split())[:MAX_COMMENT]
    return (score if score in SCORES else None), comment
