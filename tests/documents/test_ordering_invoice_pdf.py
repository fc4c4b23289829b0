"""The invoice's PDF (WeasyPrint), read back by pypdf."""

import io

from pypdf import PdfReader

from services.ordering.documents import render_invoice_pdf
from tests.unit.test_ordering_invoice import INVOICE, plain


def test_pdf_text_holds_reference_and_totals_and_is_the_same_when_rendered_again():
    first = render_invoice_pdf(INVOICE)
    assert first.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(first))
    assert len(reader.pages) == 1
    text = plain(reader.pages[0].extract_text())
    assert "INV-2026-000042" in text
    assert "20 800,00 €" in text and "10 800,00 €" in text and "800,00 €" in text
    assert reader.metadata.title == "Facture INV-2026-000042"
    again = PdfReader(io.BytesIO(render_invoice_pdf(INVOICE)))
    assert plain(again.pages[0].extract_text()) == text
