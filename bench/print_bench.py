"""Print throughput: the print file of an order of 20,000 coupons (2,000 booklets of 10).

``python -m bench.print_bench [--booklets 2000] [--sample 20] [--workers 0] [--out FILE]``

Compared in the same run with a naive baseline: one WeasyPrint render per booklet, every part
laid out by WeasyPrint, QR codes made the obvious way (``segno.make_qr``, its best mask, -> PNG).
The baseline is measured on a sample of booklets and extrapolated to the order (it would take
many minutes); joining its per-booklet PDFs is not even counted, which favours it.

The fast path (``services.issuance.documents.print_file``) lays out the static sheets once with
WeasyPrint and draws serials, codes and QR codes over them as PDF operators, in worker processes
on every core; it is measured on the whole order.
"""

import argparse
import base64
import io
import logging
import os
import time

from bench import common
from services.issuance import documents, printing
from shared.serials import booklet_serial, coupon_serial, security_code

SECRET = "bench-operator-secret-0123456789"
MAP_URL = "https://www.aptic.fr/api/v1/map.geojson"
TARGET_SECONDS = 60


def order_booklets(count, per_booklet=10):
    """Booklets as the store holds them (serials of a fresh sequence)."""
    return [
        {
            "serial": booklet_serial(i + 1),
            "sponsor_name": "Département de la Gironde",
            "face_value_cents": 1000,
            "coupon_serials": [coupon_serial(i * per_booklet + k + 1) for k in range(per_booklet)],
        }
        for i in range(count)
    ]


def naive_qr(text):
    import segno

    buffer = io.BytesIO()
    segno.make_qr(text).save(buffer, kind="png", scale=10, border=4)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def naive_booklet_pdf(booklet):
    """The naive way: codes, QR codes and a whole WeasyPrint render for one booklet."""
    codes = {serial: security_code(SECRET, serial) for serial in booklet["coupon_serials"]}
    view = printing.booklet_view(booklet, codes, with_qr=False)
    for page in view["pages"]:
        for coupon in page:
            coupon["qr"] = naive_qr(printing.qr_text(coupon["serial"], coupon["code"]))
    return printing.render_views_pdf([view], f"Carnet {booklet['serial']}", MAP_URL)


def reference_booklet_pdf(booklet):
    """The same, with the small QR images of the fast path (isolates the layout's cost)."""
    codes = {serial: security_code(SECRET, serial) for serial in booklet["coupon_serials"]}
    view = printing.booklet_view(booklet, codes)
    return printing.render_views_pdf([view], f"Carnet {booklet['serial']}", MAP_URL)


def measure_chunked(booklets, chunk):
    """WeasyPrint on ``chunk`` booklets per render (one chunk measured, extrapolated)."""
    views = []
    for booklet in booklets[:chunk]:
        codes = {serial: security_code(SECRET, serial) for serial in booklet["coupon_serials"]}
        views.append(printing.booklet_view(booklet, codes))
    started = time.perf_counter()
    printing.render_views_pdf(views, "chunk", MAP_URL)
    return (time.perf_counter() - started) / len(views) * len(booklets)


def measure_per_booklet(render, booklets, sample):
    render(booklets[0])  # warm-up: WeasyPrint's first render loads fonts
    started = time.perf_counter()
    for booklet in booklets[:sample]:
        render(booklet)
    per_booklet = (time.perf_counter() - started) / sample
    return per_booklet * len(booklets)


def measure_fast(booklets, workers):
    started = time.perf_counter()
    pdf = documents.print_file(booklets, SECRET, "Impression bench", MAP_URL, workers=workers)
    return time.perf_counter() - started, pdf


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.print_bench", description=__doc__)
    parser.add_argument("--booklets", type=int, default=2000, help="booklets of 10 coupons")
    parser.add_argument("--sample", type=int, default=20, help="booklets the baseline renders")
    parser.add_argument("--chunk", type=int, default=50, help="booklets of the chunked render")
    parser.add_argument("--workers", type=int, default=0, help="processes (0 = one per core)")
    parser.add_argument("--out", help="write the fast path's print file here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)

    booklets = order_booklets(args.booklets)
    coupons = sum(len(b["coupon_serials"]) for b in booklets)
    workers = args.workers or os.cpu_count() or 1
    print(
        f"order: {len(booklets)} booklets, {coupons} coupons; {os.cpu_count()} cores",
        flush=True,
    )

    sample = min(args.sample, len(booklets))
    naive = measure_per_booklet(naive_booklet_pdf, booklets, sample)
    rows = [(f"naive: 1 WeasyPrint render per booklet (sample {sample}, extrapolated)", naive)]
    print(f"  naive baseline measured on {sample} booklets", flush=True)
    small_qr = measure_per_booklet(reference_booklet_pdf, booklets, sample)
    rows.append((f"naive with 1-bit QR images (sample {sample}, extrapolated)", small_qr))
    chunk = min(args.chunk, len(booklets))
    chunked = measure_chunked(booklets, chunk)
    rows.append((f"WeasyPrint, {chunk} booklets per render (1 chunk, extrapolated)", chunked))
    print("  WeasyPrint on a chunk: done", flush=True)
    one, _ = measure_fast(booklets, 1)
    rows.append(("fast: static sheets once + PDF overlay, 1 process", one))
    print("  fast path, 1 process: done", flush=True)
    many, pdf = measure_fast(booklets, workers)
    rows.append((f"fast: static sheets once + PDF overlay, {workers} processes", many))
    if args.out:
        with open(args.out, "wb") as handle:
            handle.write(pdf)

    print(f"\nprint file of {coupons:,} coupons ({common.machine()})")
    common.table(
        ["method", "seconds", "coupons/s", "x naive"],
        [
            [label, f"{seconds:.1f}", f"{coupons / seconds:,.0f}", f"{naive / seconds:.1f}"]
            for label, seconds in rows
        ],
    )
    verdict = "met" if many <= TARGET_SECONDS else "NOT met"
    print(
        f"\ntarget: the whole order in <= {TARGET_SECONDS} s: {verdict} ({many:.1f} s);"
        f" print file {len(pdf) / 1e6:.1f} MB"
    )
    return rows


if __name__ == "__main__":
    main()
