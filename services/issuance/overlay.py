"""The fast print path: static sheets laid out once by WeasyPrint, variable parts drawn over them.

Most of a print file is the same on every sheet (frames, texts, the sponsor's name, the face
value); only serials, security codes and QR codes change. So, as variable-data printing does:

1. ``render_print_html(..., template=True)`` makes one static sheet per kind (cover; sheet of k
   coupons) per (sponsor, face value, booklet size), rendered by WeasyPrint once;
2. each static sheet becomes a PDF form XObject, drawn as the background of every sheet of its
   kind;
3. the variable parts are written straight as PDF operators at the places ``print.css`` gives
   them, in DejaVu Sans Mono Bold (the font the CSS uses for them, embedded once), and each QR
   code as a 1-bit image (one pixel a module, drawn without smoothing).

Chunks of booklets are drawn independently (``render_chunk``: pure, runs in worker processes,
see ``print_worker``): each page as its content stream and its QR codes' samples; the file is
assembled from them with pikepdf (``services.issuance.documents.Assembly``).
"""

import functools
import io
import os
import subprocess

from services.issuance.printing import (
    SLOT_HEIGHT_MM,
    SLOT_INSET_MM,
    qr_bits,
    qr_text,
)

PT_PER_MM = 72 / 25.4
PAGE_W, PAGE_H = 210 * PT_PER_MM, 297 * PT_PER_MM
SLOT_LEFT_MM, SLOT_BORDER_MM = 12, 0.3
LINE_HEIGHT = 1.2  # print.css: html { line-height: 1.2 }
FONT_FILE = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
FONT_NAME = "DejaVuSansMono-Bold"
GREY = 0.267  # #444

# (left mm, top mm, size pt, grey) inside a slot's frame, as in print.css
COUPON_TEXT = {
    "serial": (104, 10, 12, 0),
    "code": (104, 19.5, 12, 0),
    "booklet": (104, 26.5, 6.5, GREY),
}
COVER_TEXT = {"range": (4, 31.5, 9, 0), "number": (128, 7, 13, 0)}
QR_BOX = (151, 7, 30)  # left, top, size (mm)


# -- content stream operators ---------------------------------------------------------------------
def pdf_string(text):
    raw = text.encode("cp1252")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _xy(slot, left_mm, top_mm):
    """PDF user-space point (from the bottom left) of a place given from a slot's frame."""
    x = (SLOT_LEFT_MM + SLOT_BORDER_MM + left_mm) * PT_PER_MM
    y_top = (SLOT_HEIGHT_MM * slot + SLOT_INSET_MM + SLOT_BORDER_MM + top_mm) * PT_PER_MM
    return x, PAGE_H - y_top


def text_op(slot, place, text, ascent):
    left, top, size, grey = place
    x, y = _xy(slot, left, top)
    # baseline: half-leading, then the font's ascent (as a CSS line box of line-height 1.2)
    baseline = y - size * ((LINE_HEIGHT - ascent[1]) / 2 + ascent[0])
    return (
        b"%.3f g BT /V %.2f Tf 1 0 0 1 %.2f %.2f Tm " % (grey, size, x, baseline)
        + pdf_string(text)
        + b" Tj ET\n"
    )


def qr_op(slot):
    left, top, size = QR_BOX
    x, y = _xy(slot, left, top)
    side = size * PT_PER_MM
    return b"q %.2f 0 0 %.2f %.2f %.2f cm /Q%d Do Q\n" % (side, side, x, y - side, slot)


# -- one chunk of booklets ------------------------------------------------------------------------
def render_chunk(job):
    """The pages of a chunk of booklets, in order: ``(form, content, qr_codes)`` each, ``form``
    the key of its static sheet, ``content`` its content stream (the static sheet drawn as
    ``/T``, the texts in font ``/V``, QR code ``i`` drawn as ``/Q<i>``), ``qr_codes`` the
    ``(size, 1-bit rows)`` of its QR codes (:func:`printing.qr_bits`).

    ``job``: ``ascent`` (of the font) and ``booklets`` (views with ``kind`` and the coupons'
    serials and codes)."""
    ascent = tuple(job["ascent"])
    pages = []
    for view in job["booklets"]:
        for sheet in [None, *view["pages"]]:
            kind, count = ("cover", 0) if sheet is None else ("coupons", len(sheet))
            ops = [b"q /T Do Q\n"]
            if sheet is None:
                ops.append(text_op(0, COVER_TEXT["number"], view["serial"], ascent))
                text = f"Chèques n° {view['first_serial']} à {view['last_serial']}"
                ops.append(text_op(0, COVER_TEXT["range"], text, ascent))
            for slot, coupon in enumerate(sheet or ()):
                ops.append(text_op(slot, COUPON_TEXT["serial"], coupon["serial"], ascent))
                ops.append(text_op(slot, COUPON_TEXT["code"], coupon["code"], ascent))
                line = f"Carnet {view['serial']} · chèque {coupon['index']}/{view['coupon_count']}"
                ops.append(text_op(slot, COUPON_TEXT["booklet"], line, ascent))
                ops.append(qr_op(slot))
            qr_codes = [qr_bits(qr_text(c["serial"], c["code"])) for c in sheet or ()]
            pages.append((f"{view['kind']}:{kind}:{count}", b"".join(ops), qr_codes))
    return pages


# -- the embedded font ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def font_program(path=FONT_FILE):
    """``(ttf bytes, widths 32..255, bbox, (ascent, descent+ascent) in em)`` of the mono font
    (embedded whole: the variable parts are any of its WinAnsi characters)."""
    from fontTools.ttLib import TTFont

    if not os.path.exists(path):  # not Debian's layout: ask fontconfig
        found = subprocess.run(
            ["fc-match", "-f", "%{file}", "DejaVu Sans Mono:bold"], capture_output=True, text=True
        )
        path = found.stdout.strip() or path
    with open(path, "rb") as handle:
        data = handle.read()
    font = TTFont(io.BytesIO(data))
    scale = 1000 / font["head"].unitsPerEm
    cmap, hmtx = font.getBestCmap(), font["hmtx"]
    widths = []
    for code in range(32, 256):
        try:
            char = bytes([code]).decode("cp1252")
        except UnicodeDecodeError:
            widths.append(0)
            continue
        glyph = cmap.get(ord(char))
        widths.append(round(hmtx[glyph][0] * scale) if glyph else 0)
    head, hhea = font["head"], font["hhea"]
    bbox = [round(v * scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax)]
    units = head.unitsPerEm
    ascent = (hhea.ascent / units, (hhea.ascent - hhea.descent) / units)
    return data, widths, bbox, ascent
