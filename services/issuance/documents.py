"""Print files of booklets: the fast path of :mod:`services.issuance.overlay`, on every core.

``print_file(booklets, secret, ...)`` -> PDF bytes. Security codes are computed here from the
operator's secret (they are stored nowhere); worker processes get only the codes of their chunk.
"""

import io
import json
import logging
import os
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pikepdf
from pikepdf import Array, Dictionary, Name

from services.issuance import overlay
from services.issuance.printing import booklet_view, render_print_html
from shared.pdf import html_to_pdf
from shared.serials import security_code

log = logging.getLogger(__name__)

CHUNK_BOOKLETS = 50  # booklets per job of a worker (150 pages for booklets of 10)
PARALLEL_FROM = 100  # below this many booklets, one process does it all (no worker start-up)
ROOT = Path(__file__).resolve().parents[2]
# a QR code: one sample a module, 1 = white; scaled up sharp (no smoothing)
QR_IMAGE = {
    "Type": Name.XObject,
    "Subtype": Name.Image,
    "ColorSpace": Name.DeviceGray,
    "BitsPerComponent": 1,
    "Interpolate": False,
}


def kind_of(booklet):
    return (booklet["sponsor_name"], booklet["face_value_cents"], len(booklet["coupon_serials"]))


def views_of(booklets, secret):
    """The views of the booklets (codes made from the secret now), each tagged with its kind."""
    kinds, views = {}, []
    for booklet in booklets:
        kind = kinds.setdefault(kind_of(booklet), str(len(kinds)))
        codes = {serial: security_code(secret, serial) for serial in booklet["coupon_serials"]}
        views.append({**booklet_view(booklet, codes, with_qr=False), "kind": kind})
    return kinds, views


def render_templates(kinds, views, title, map_url):
    """One WeasyPrint render of every static sheet: ``(pdf bytes, ["<kind>:<sheet>:<n>", ...])``
    (the key of each page, in order)."""
    counts = {}
    for view in views:
        counts.setdefault(view["kind"], set()).update(len(page) for page in view["pages"])
    template_views, keys = [], []
    for (sponsor_name, face_value_cents, coupon_count), kind in kinds.items():
        sizes = sorted(counts.get(kind, ()))
        template_views.append(
            {
                "serial": "",
                "sponsor_name": sponsor_name,
                "coupon_count": coupon_count,
                "face_value_cents": face_value_cents,
                "total_cents": face_value_cents * coupon_count,
                "pages": [[None] * size for size in sizes],
            }
        )
        keys += [f"{kind}:cover:0", *[f"{kind}:coupons:{size}" for size in sizes]]
    html = render_print_html(template_views, title, map_url, template=True)
    return html_to_pdf(html, title=title), keys


class Assembly:
    """The print file, assembled with pikepdf: each static sheet of the template as a form
    XObject, the font embedded once, then the pages the chunks drew (in order).

    pikepdf (qpdf) replaced a PDF writer of our own (objects numbered in advance, chunks
    concatenated, cross-reference table written by hand): that one was not even 2x faster
    (10,000 coupons, 2 workers: 10.0-10.6 s of CPU in all against 10.5-11.3 s; the print file of
    20,000 coupons stays about as long, bench/print_bench.py), so the library does it."""

    def __init__(self, template_pdf, keys, title):
        self.pdf = pikepdf.new()
        self.template = pikepdf.open(io.BytesIO(template_pdf))  # read until the file is saved
        self.forms = {
            key: self.pdf.copy_foreign(page.as_form_xobject())
            for key, page in zip(keys, self.template.pages, strict=True)
        }
        data, widths, bbox, self.ascent = overlay.font_program()
        program = pikepdf.Stream(self.pdf, data)
        program.Length1 = len(data)
        name = Name("/" + overlay.FONT_NAME)
        descriptor = Dictionary(
            Type=Name.FontDescriptor,
            FontName=name,
            Flags=33,  # fixed pitch, not symbolic
            FontBBox=bbox,
            ItalicAngle=0,
            Ascent=round(self.ascent[0] * 1000),
            Descent=round((self.ascent[0] - self.ascent[1]) * 1000),
            CapHeight=729,
            StemV=80,
            FontFile2=program,
        )
        self.font = self.pdf.make_indirect(
            Dictionary(
                Type=Name.Font,
                Subtype=Name.TrueType,
                BaseFont=name,
                FirstChar=32,
                LastChar=255,
                Widths=widths,
                Encoding=Name.WinAnsiEncoding,
                FontDescriptor=self.pdf.make_indirect(descriptor),
            )
        )
        self.font_resource = Dictionary(V=self.font)
        self.media_box = [0, 0, overlay.PAGE_W, overlay.PAGE_H]
        self.kids = []
        self.pdf.docinfo[Name.Title] = title
        self.pdf.docinfo[Name.Producer] = "APTIC platform"

    def job(self, chunk, views, path):
        return {"chunk": chunk, "ascent": list(self.ascent), "booklets": views, "path": str(path)}

    def add(self, pages):
        """Append the pages of a chunk (:func:`overlay.render_chunk`)."""
        for form, content, qr_codes in pages:
            xobjects = {"/T": self.forms[form]}
            for slot, (size, rows) in enumerate(qr_codes):
                xobjects[f"/Q{slot}"] = pikepdf.Stream(
                    self.pdf, rows, Width=size, Height=size, **QR_IMAGE
                )
            page = Dictionary(
                Type=Name.Page,
                MediaBox=self.media_box,
                Resources=Dictionary(XObject=Dictionary(xobjects), Font=self.font_resource),
                Contents=pikepdf.Stream(self.pdf, content),
            )
            self.kids.append(self.pdf.make_indirect(page))

    def write(self, out=None):
        """Save the file to ``out`` (a path or a binary file; None: answer the bytes)."""
        # the page tree in one array: 2.5x faster than pdf.pages.append page by page
        tree = self.pdf.Root.Pages
        for page in self.kids:
            page.Parent = tree
        tree.Kids, tree.Count = Array(self.kids), len(self.kids)
        if out is not None:
            self.pdf.save(out, compress_streams=True)
            return None
        buffer = io.BytesIO()
        self.pdf.save(buffer, compress_streams=True)
        return buffer.getvalue()


# -- running the chunks ---------------------------------------------------------------------------
def _run_in_workers(jobs, workers, progress):
    """Run the jobs in ``workers`` processes (round robin); the chunks back in job order."""
    procs, results = [], queue.Queue()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    for index in range(workers):
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.issuance.print_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=str(ROOT),
        )
        mine = jobs[index::workers]
        threading.Thread(target=_feed, args=(proc, mine), daemon=True).start()
        threading.Thread(target=_read, args=(proc, results), daemon=True).start()
        procs.append(proc)
    done = 0
    while done < len(jobs):
        line = results.get(timeout=600)
        if line is None:
            raise RuntimeError("a print worker stopped before finishing its chunks")
        done += 1
        progress(*map(int, line.split()))
    for proc in procs:
        if proc.wait() != 0:
            raise RuntimeError(f"a print worker failed (exit {proc.returncode})")
    for job in jobs:  # one chunk in memory at a time, added to the file as it is read
        with open(job["path"], "rb") as handle:
            yield pickle.load(handle)  # written by our own worker, just now


def _feed(proc, jobs):
    for job in jobs:
        proc.stdin.write((json.dumps(job, ensure_ascii=False) + "\n").encode())
    proc.stdin.close()


def _read(proc, results):
    for line in proc.stdout:
        results.put(line.decode().strip())
    if proc.wait() != 0:
        results.put(None)


def print_file(booklets, secret, title, map_url, workers=0, chunk_booklets=CHUNK_BOOKLETS):
    """The print file of ``booklets`` (stored booklet documents, in print order) as PDF bytes.

    ``workers``: processes to use (0 = one per core); small files are made in-process."""
    buffer = io.BytesIO()
    write_print_file(booklets, secret, title, map_url, buffer, workers, chunk_booklets)
    return buffer.getvalue()


def write_print_file(
    booklets, secret, title, map_url, out, workers=0, chunk_booklets=CHUNK_BOOKLETS
):
    """Write the print file of ``booklets`` to ``out`` (a path or a binary file); its number
    of pages. Each chunk the workers drew is added to the document as it is read back (one
    chunk in memory at a time); pikepdf (qpdf) holds the document itself until it is saved."""
    started = time.perf_counter()
    kinds, views = views_of(booklets, secret)
    template, keys = render_templates(kinds, views, title, map_url)
    assembly = Assembly(template, keys, title)
    total = sum(view["coupon_count"] for view in views)
    state = {"coupons": 0}

    def progress(chunk, coupons):
        state["coupons"] += coupons
        log.info(
            "print file %s: %s/%s coupons (%.0f s)",
            title,
            state["coupons"],
            total,
            time.perf_counter() - started,
        )

    workers = workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="aptic-print-") as tmp:
        groups = [views[i : i + chunk_booklets] for i in range(0, len(views), chunk_booklets)]
        jobs = [assembly.job(i, group, Path(tmp, f"{i:05d}.bin")) for i, group in enumerate(groups)]
        del views
        if workers > 1 and len(jobs) > 1 and len(booklets) >= PARALLEL_FROM:
            chunks = _run_in_workers(jobs, min(workers, len(jobs)), progress)
        else:
            chunks = _in_process(jobs, progress)
        for pages in chunks:
            assembly.add(pages)
    pages = len(assembly.kids)
    assembly.write(out)
    return pages


def _in_process(jobs, progress):
    for job in jobs:
        yield overlay.render_chunk(job)
        progress(job["chunk"], sum(v["coupon_count"] for v in job["booklets"]))
