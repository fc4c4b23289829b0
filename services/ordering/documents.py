"""The invoice of an order: ``render_invoice_html`` (pure, Jinja2) and ``render_invoice_pdf``.

Both take the invoice snapshot stored on the order when it was issued (never the live order), so
the document rendered again months later says exactly what it said the first time.
"""

import hashlib
import json

from shared.filestore import FileStore
from shared.pdf import format_iban, format_percent, html_to_pdf, template_environment

KIND_LABELS = {
    "region": "Région",
    "department": "Département",
    "metropolis": "Métropole",
    "town": "Commune",
    "town_group": "Groupement de communes",
    "public_body": "Établissement public",
    "ccas": "Centre communal d'action sociale",
    "company": "Entreprise",
    "chamber": "Chambre consulaire",
    "foundation": "Fondation",
    "association": "Association",
}

_env = None


def environment():
    global _env
    if _env is None:
        _env = template_environment("services.ordering")
        _env.filters["pct"] = format_percent
        _env.filters["iban"] = format_iban
    return _env


def invoice_context(invoice):
    """What the template shows, computed from the stored snapshot (no rounding here: every
    amount is a product of integers or was computed once on the order, rounded once)."""
    rows = []
    for line in invoice["lines"]:
        booklet_price = line["coupons_per_booklet"] * line["face_value_cents"]
        rows.append(
            {
                **line,
                "coupons": line["quantity"] * line["coupons_per_booklet"],
                "booklet_price_cents": booklet_price,
                "amount_cents": line["quantity"] * booklet_price,
            }
        )
    amounts = invoice["quote"]
    return {
        "invoice": invoice,
        "issuer": invoice["issuer"],
        "recipient": invoice["recipient"],
        "kind_label": KIND_LABELS.get(invoice["recipient"]["kind"], invoice["recipient"]["kind"]),
        "rows": rows,
        "amounts": amounts,
        "total_cents": amounts["face_value_cents"] + amounts["fee_cents"],
        "cofunded": amounts["state_share_cents"] > 0,
    }


def render_invoice_html(invoice):
    return environment().get_template("invoice.html").render(**invoice_context(invoice))


def render_invoice_pdf(invoice):
    html = render_invoice_html(invoice)
    return html_to_pdf(
        html, title=f"Facture {invoice['reference']}", author=invoice["issuer"]["name"]
    )


INVOICE_BUCKET = "invoices"  # ordering's file store (GridFS): each invoice's PDF, made once


def stored_invoice(db, invoice, order_id):
    """The record of the invoice's PDF in ordering's file store, made and stored the first time
    (``shared.filestore``): its bytes are read a chunk at a time, never sent whole in a message.
    Keyed by the reference and a digest of the invoice snapshot: the same invoice, the same file."""
    files = FileStore(db, INVOICE_BUCKET)
    snapshot = json.dumps(invoice, sort_keys=True, default=str).encode()
    file_id = f"{invoice['reference']}-{hashlib.sha256(snapshot).hexdigest()[:24]}"
    found = files.find(file_id)
    if found is not None:
        return found
    metadata = {"order_id": order_id, "reference": invoice["reference"]}
    return files.put(file_id, f"{invoice['reference']}.pdf", render_invoice_pdf(invoice), metadata)


def invoice_chunk(db, file_id, index):
    """``(record, bytes)``: chunk ``index`` of a stored invoice (None if there is no such)."""
    files = FileStore(db, INVOICE_BUCKET)
    found = files.find(file_id) if isinstance(file_id, str) and len(file_id) < 120 else None
    if found is None or not isinstance(index, int) or index < 0:
        return found, None
    return found, files.chunk(file_id, index)
