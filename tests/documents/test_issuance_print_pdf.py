"""The print file's PDF (the fast path) read back by real tools: pdftotext, pypdf, zbar on pages
rendered by pdftoppm; and a page of it against the same page laid out by WeasyPrint."""

import io
import subprocess
import tempfile
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader
from pyzbar.pyzbar import decode

from services.issuance import documents, printing
from shared.serials import coupon_serial
from tests.unit.test_issuance_print import MAP_URL, SECRET, booklet, codes_of, plain


def pages_png(pdf, first, last, dpi=150):
    """Pages ``first`` to ``last`` as rendered by poppler (pdftoppm)."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "file.pdf")
        source.write_bytes(pdf)
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                str(dpi),
                "-f",
                str(first),
                "-l",
                str(last),
                source,
                Path(tmp, "p"),
            ],
            check=True,
        )
        images = []
        for path in sorted(Path(tmp).glob("p-*.png")):
            with Image.open(path) as image:
                images.append(image.copy())
        return images


@pytest.fixture(scope="module")
def print_pdf():
    items = [booklet(n) for n in range(1, 4)] + [
        booklet(4, per_booklet=5, first_coupon=31, face_value_cents=500, sponsor="CCAS Pessac")
    ]
    return items, documents.print_file(items, SECRET, "Impression test", MAP_URL, workers=1)


def test_pdf_is_a4_with_a_cover_and_sheets_of_five_per_booklet(print_pdf):
    items, pdf = print_pdf
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 3 * 3 + 2
    for page in reader.pages:
        assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)
    assert reader.metadata.title == "Impression test"


def test_pdf_text_holds_every_serial_code_and_sponsor(print_pdf):
    items, pdf = print_pdf
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    for item in items:
        assert item["serial"] in text
        for serial, code in codes_of(item).items():
            assert serial in text and code in text
    flat = plain(text)
    assert "Offert par CCAS Pessac" in flat and "5,00 €" in flat
    assert f"Chèques n° {coupon_serial(31)} à {coupon_serial(35)}" in flat
    assert "Valable 1 an à compter de la remise" in flat
    assert MAP_URL in flat.replace("// ", "//")  # the URL may wrap after the scheme
    # pypdf reads the same serials
    reader_text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert all(serial in reader_text for item in items for serial in item["coupon_serials"])


def test_every_qr_code_decodes_to_serial_and_code(print_pdf):
    items, pdf = print_pdf
    expected = {f"{s}:{c}" for item in items for s, c in codes_of(item).items()}
    found = set()
    for image in pages_png(pdf, 1, 11):
        found |= {symbol.data.decode() for symbol in decode(image)}
    assert found == expected


def test_fast_path_and_weasyprint_render_the_same_page():
    item = booklet(7)
    codes = codes_of(item)
    reference = printing.render_views_pdf([printing.booklet_view(item, codes)], "t", MAP_URL)
    fast = documents.print_file([item], SECRET, "t", MAP_URL, workers=1)
    for a, b in zip(pages_png(reference, 1, 3, dpi=40), pages_png(fast, 1, 3, dpi=40), strict=True):
        a, b = a.convert("L"), b.convert("L")
        differing = sum(1 for p, q in zip(a.getdata(), b.getdata(), strict=True) if abs(p - q) > 96)
        assert differing < 0.01 * a.width * a.height
