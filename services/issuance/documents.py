"""Print files of booklets: the fast path of :mod:`services.issuance.overlay`, on every core.

``print_file(booklets, secret, ...)`` -> PDF bytes. Security codes are computed here from the
operator's secret (they are stored nowhere); worker processes get only the codes of their chunk.
"""

import io
import json
import logging
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from services.issuance import overlay
from services.issuance.printing import booklet_view, render_print_html
from shared.pdf import html_to_pdf
from shared.serials import security_code

log = logging.getLogger(__name__)

CHUNK_BOOKLETS = 50  # booklets per job of a worker (150 pages for booklets of 10)
PARALLEL_FROM = 100  # below this many booklets, one process does it all (no worker start-up)
ROOT = Path(__file__).resolve().parents[2]


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
    """The objects of the output file, numbered: the template's own, forms, font, page tree."""

    def __init__(self, template_pdf, keys, title):
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(template_pdf))
        number = int(reader.trailer["/Size"])
        self.head = []  # (number, bytes)
        self.forms = {}
        reachable = {}
        for key, page in zip(keys, reader.pages, strict=True):
            resources = page["/Resources"]
            _collect(resources, reachable)
            box = " ".join(f"{float(v):.3f}" for v in page.mediabox)
            self.head.append(
                (
                    number,
                    overlay.stream_object(
                        number,
                        f"/Type /XObject /Subtype /Form /BBox [{box}] /Resources {_dump(resources)}",
                        page.get_contents().get_data(),
                    ),
                )
            )
            self.forms[key] = number
            number += 1
        for idnum in range(1, int(reader.trailer["/Size"])):  # the template's own numbers
            obj = reachable.get(idnum)  # what the static sheets use; "null" for the rest
            self.head.append((idnum, f"{idnum} 0 obj\n".encode() + _raw(obj) + b"\nendobj\n"))
        fonts, self.ascent = overlay.font_objects(number)
        self.font = number
        self.head += [(number + i, obj) for i, obj in enumerate(fonts)]
        number += len(fonts)
        self.pages, self.catalog, self.info = number, number + 1, number + 2
        self.title = title
        self.next = number + 3

    def job(self, chunk, views, path):
        job = {
            "chunk": chunk,
            "first": self.next,
            "pages": self.pages,
            "font": self.font,
            "ascent": list(self.ascent),
            "forms": self.forms,
            "booklets": views,
            "path": str(path),
        }
        self.next += sum(overlay.objects_of_booklet(view) for view in views)
        return job

    def write(self, chunks):
        """The whole file from the chunks' ``(bytes, offsets, page numbers)``, in order."""
        out = io.BytesIO()
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        offsets = {}
        for number, data in self.head:
            offsets[number] = out.tell()
            out.write(data)
        pages = []
        number = self.info + 1  # the chunks' objects follow, numbered in job order
        for data, chunk_offsets, chunk_pages in chunks:
            base = out.tell()
            for offset in chunk_offsets:
                offsets[number] = base + offset
                number += 1
            out.write(data)
            pages += chunk_pages
        kids = " ".join(f"{n} 0 R" for n in pages)
        tail = [
            (self.pages, f"<</Type /Pages /Count {len(pages)} /Kids [{kids}]>>"),
            (self.catalog, f"<</Type /Catalog /Pages {self.pages} 0 R>>"),
            (
                self.info,
                f"<</Title {overlay.pdf_string(self.title).decode('cp1252')}"
                " /Producer (APTIC platform)>>",
            ),
        ]
        for obj_number, body in tail:
            offsets[obj_number] = out.tell()
            out.write(overlay.plain_object(obj_number, body))
        size = max(offsets) + 1
        xref = out.tell()
        out.write(f"xref\n0 {size}\n0000000000 65535 f \n".encode())
        for obj_number in range(1, size):
            out.write(b"%010d 00000 n \n" % offsets[obj_number])
        out.write(
            f"trailer\n<</Size {size} /Root {self.catalog} 0 R /Info {self.info} 0 R>>\n"
            f"startxref\n{xref}\n%%EOF\n".encode()
        )
        return out.getvalue()


def _collect(obj, found):
    from pypdf.generic import IndirectObject

    if isinstance(obj, IndirectObject):
        if obj.idnum in found:
            return
        target = obj.get_object()
        found[obj.idnum] = target
        _collect(target, found)
    elif isinstance(obj, dict):
        for value in obj.values():
            _collect(value, found)
    elif isinstance(obj, list):
        for value in obj:
            _collect(value, found)


def _raw(obj):
    if obj is None:
        return b"null"
    buffer = io.BytesIO()
    obj.write_to_stream(buffer)
    return buffer.getvalue()


def _dump(obj):
    return _raw(obj).decode("latin-1")


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
    chunks = []
    for job in jobs:
        with open(job["path"], "rb") as handle:
            data = handle.read()
        with open(job["path"] + ".json") as handle:
            meta = json.load(handle)
        chunks.append((data, meta["offsets"], meta["pages"]))
    return chunks


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
        if workers > 1 and len(views) >= PARALLEL_FROM:
            chunks = _run_in_workers(jobs, min(workers, len(jobs)), progress)
        else:
            chunks = []
            for job in jobs:
                chunks.append(overlay.render_chunk(job))
                progress(job["chunk"], sum(v["coupon_count"] for v in job["booklets"]))
    return assembly.write(chunks)
