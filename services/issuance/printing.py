"""The print file of booklets: ``render_print_html`` (pure, Jinja2) and ``render_print_pdf``.

Layout (A4, full bleed, cut marks in the side margins): per booklet, a cover sheet (the cover and
the "how to use" notice, each the size of a coupon), then its coupons, five to a sheet (a booklet
of 10 = 2 sheets). Each coupon: face value, sponsor, validity rule, serial with check digit,
security code, booklet serial and rank, and a QR code whose text is exactly ``<serial>:<code>``.

Speed (``bench/print_bench.py``): QR codes (segno) are drawn as tiny 1-bit PNGs (one pixel a
module, scaled up without smoothing) with a fixed mask pattern; booklets are rendered in chunks (one
WeasyPrint call lays out many booklets) by worker processes (``print_worker``) on every core,
and the chunks' PDFs are joined in order.
"""

import segno

from shared.pdf import html_to_pdf, template_environment

COUPONS_PER_SHEET = 5
SLOT_HEIGHT_MM = 59.4  # A4 height / 5
SLOT_INSET_MM = 5  # the frame of a slot starts 5 mm below the cut
VALIDITY_RULE = "Valable 1 an à compter de la remise du carnet au bénéficiaire."
QR_BORDER = 2  # modules of quiet zone inside the image (the slot around it is white too)

_env = None


def environment():
    global _env
    if _env is None:
        _env = template_environment("services.issuance")
    return _env


def qr_text(serial, code):
    """What a coupon's QR code holds: the serial and the code as a venue would type them."""
    return f"{serial}:{code}"


def qr_code(text):
    """The QR code of ``text`` (segno), error correction M, the smallest version that holds it.

    The mask pattern is fixed: any mask makes a valid code; choosing the "best" one costs 5x
    the time of the rest and brings nothing at this size and print quality."""
    return segno.make(text, error="m", mask=0, boost_error=False, micro=False)


_WHITE_BITS = bytes.maketrans(b"\x00\x01", b"10")  # a dark module is 1 in segno, 0 here


def qr_bits(text, border=QR_BORDER):
    """``(size, rows)``: the QR code of ``text`` as packed 1-bit rows (1 = white), with a quiet
    zone of ``border`` modules: the samples of a PDF 1-bit image."""
    matrix = qr_code(text).matrix
    size = len(matrix) + 2 * border
    stride = (size + 7) // 8
    quiet = b"1" * border
    pad = b"0" * (stride * 8 - size)
    blank = int(b"1" * size + pad, 2).to_bytes(stride, "big") * border
    body = b"".join(
        int(quiet + bytes(row).translate(_WHITE_BITS) + quiet + pad, 2).to_bytes(stride, "big")
        for row in matrix
    )
    return size, blank + body + blank


def qr_data_uri(text):
    """The QR code of ``text`` as a 1-bit PNG data URI, one pixel a module."""
    return qr_code(text).png_data_uri(scale=1, border=QR_BORDER)


def sheets(items, per_sheet=COUPONS_PER_SHEET):
    return [items[i : i + per_sheet] for i in range(0, len(items), per_sheet)]


def booklet_view(booklet, codes, with_qr=True):
    """What the template shows of one booklet; ``codes`` maps coupon serials to their codes
    (computed from the operator's secret at print time: codes are stored nowhere)."""
    coupons = [
        {
            "index": index,
            "serial": serial,
            "code": codes[serial],
            "face_value_cents": booklet["face_value_cents"],
            "qr": qr_data_uri(qr_text(serial, codes[serial])) if with_qr else None,
        }
        for index, serial in enumerate(booklet["coupon_serials"], start=1)
    ]
    return {
        "serial": booklet["serial"],
        "sponsor_name": booklet["sponsor_name"],
        "coupon_count": len(coupons),
        "face_value_cents": booklet["face_value_cents"],
        "total_cents": booklet["face_value_cents"] * len(coupons),
        "first_serial": coupons[0]["serial"],
        "last_serial": coupons[-1]["serial"],
        "pages": sheets(coupons),
    }


def slot_top_mm(index):
    """Top of the ``index``-th (0-based) slot's frame on its sheet, in mm from the page top."""
    return round(SLOT_HEIGHT_MM * index + SLOT_INSET_MM, 2)


def render_print_html(views, title, map_url, template=False):
    """The print file of booklets already made into views (:func:`booklet_view`), as HTML.

    ``template=True`` leaves out every variable part (serials, codes, QR codes): the static
    sheets the fast path (:mod:`services.issuance.overlay`) draws the variable parts onto."""
    return (
        environment()
        .get_template("print.html")
        .render(
            booklets=views,
            title=title,
            map_url=map_url,
            validity_rule=VALIDITY_RULE,
            template=template,
            slot_tops=[slot_top_mm(i) for i in range(COUPONS_PER_SHEET)],
            mark_positions=[round(SLOT_HEIGHT_MM * i, 2) for i in range(1, COUPONS_PER_SHEET)],
        )
    )


def render_views_pdf(views, title, map_url):
    """One WeasyPrint render of these booklets, every part laid out by WeasyPrint (the reference
    rendering; the naive baseline of the print benchmark renders one booklet per call)."""
    return html_to_pdf(render_print_html(views, title, map_url), title=title)
