"""Print files of booklets: the fast path of :mod:`services.issuance.overlay`, on every core.

``print_file(booklets, secret, ...)`` -> PDF bytes. Security codes are computed here from the
operator's secret (they are stored nowhere); worker processes get only the codes of their chunk.
"""

import array
import contextlib
import ctypes
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
import zlib
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


def views_of(booklets, secret, kinds=None):
    """The views of the booklets (codes made from the secret now), each tagged with its kind
    (``kinds``: the kinds known already, completed here)."""
    kinds, views = ({} if kinds is None else kinds), []
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


class StreamingAssembly(Assembly):
    """The print file written as it is made: the static part (forms, font: a few objects, made
    by pikepdf as in :class:`Assembly`) first, then each page's objects as its chunk arrives,
    the page tree, cross-reference table and trailer at the end. What it keeps in memory is one
    offset per object and one number per page (a few MB for 100,000 booklets), whatever the
    size of the file; :class:`Assembly` holds every page in qpdf until the file is saved."""

    def open(self, out):
        """Start writing to ``out`` (a binary file): header and static objects."""
        self.out, self.offsets, self.kids, self.base = out, array.array("Q", [0]), None, None
        self.page_numbers = array.array("Q")
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        head = list(self.pdf.objects)
        numbers = [obj.objgen[0] for obj in head]
        assert numbers == list(range(1, len(head) + 1)), "pikepdf numbered its objects apart"
        for obj in head:
            if obj.objgen in (self.pdf.Root.objgen, self.pdf.Root.Pages.objgen):
                self._write(obj.objgen[0], b"null")  # ours are written at the end
            elif isinstance(obj, pikepdf.Stream):
                raw = obj.read_raw_bytes()
                header = Dictionary(obj.stream_dict)
                if Name.Filter not in header:  # the font, the forms: compressed as pikepdf would
                    raw = zlib.compress(raw, 9)
                    header.Filter = Name.FlateDecode
                header.Length = len(raw)
                self._write(obj.objgen[0], header.unparse(resolved=True), raw)
            else:
                self._write(obj.objgen[0], obj.unparse(resolved=True))
        self.font_number = self.font.objgen[0]
        self.form_numbers = {key: form.objgen[0] for key, form in self.forms.items()}
        number = len(head) + 1
        self.tree, self.catalog, self.info = number, number + 1, number + 2
        self.offsets.extend([0, 0, 0])
        self.media_box_text = b"[0 0 %.4f %.4f]" % (overlay.PAGE_W, overlay.PAGE_H)

    def _write(self, number, body, stream=None):
        if number == len(self.offsets):
            self.offsets.append(self.out.tell())
        else:
            self.offsets[number] = self.out.tell()
        self.out.write(b"%d 0 obj\n" % number + body)
        if stream is not None:
            self.out.write(b"\nstream\n" + stream + b"\nendstream")
        self.out.write(b"\nendobj\n")

    def _stream(self, header, data):
        number = len(self.offsets)
        packed = zlib.compress(data, 6)
        self._write(
            number, b"<< %s /Filter /FlateDecode /Length %d >>" % (header, len(packed)), packed
        )
        return number

    def add(self, pages):
        """Write the pages of a chunk (:func:`overlay.render_chunk`) to the file now."""
        for form, content, qr_codes in pages:
            xobjects = [b"/T %d 0 R" % self.form_numbers[form]]
            for slot, (size, rows) in enumerate(qr_codes):
                image = self._stream(
                    b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray"
                    b" /BitsPerComponent 1 /Interpolate false" % (size, size),
                    rows,
                )
                xobjects.append(b"/Q%d %d 0 R" % (slot, image))
            contents = self._stream(b"", content)
            number = len(self.offsets)
            self._write(
                number,
                b"<< /Type /Page /Parent %d 0 R /MediaBox %s /Resources << /XObject << %s >>"
                b" /Font << /V %d 0 R >> >> /Contents %d 0 R >>"
                % (self.tree, self.media_box_text, b" ".join(xobjects), self.font_number, contents),
            )
            self.page_numbers.append(number)

    def finish(self):
        """The page tree, catalog, document information, cross-reference table and trailer."""
        out = self.out
        self.offsets[self.tree] = out.tell()
        out.write(
            b"%d 0 obj\n<< /Type /Pages /Count %d /Kids [" % (self.tree, len(self.page_numbers))
        )
        for start in range(0, len(self.page_numbers), 10000):
            out.write(b"".join(b"%d 0 R " % n for n in self.page_numbers[start : start + 10000]))
        out.write(b"] >>\nendobj\n")
        self._write(self.catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % self.tree)
        title = Dictionary(T=pikepdf.String(str(self.pdf.docinfo.get(Name.Title, ""))))
        self._write(
            self.info,
            b"<< /Title %s /Producer (APTIC platform) >>" % title.T.unparse(),
        )
        size = len(self.offsets)
        xref = out.tell()
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
        for start in range(1, size, 10000):
            out.write(
                b"".join(b"%010d 00000 n \n" % o for o in self.offsets[start : start + 10000])
            )
        out.write(
            b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (size, self.catalog, self.info, xref)
        )
        return len(self.page_numbers)


# -- running the chunks ---------------------------------------------------------------------------
def _run_in_workers(jobs, workers, progress, materialize=lambda job: job):
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
        threading.Thread(target=_feed, args=(proc, mine, materialize), daemon=True).start()
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


def _feed(proc, jobs, materialize):
    for job in jobs:  # each job's booklets made into views only when it is sent
        proc.stdin.write((json.dumps(materialize(job), ensure_ascii=False) + "\n").encode())
    proc.stdin.close()


def _read(proc, results):
    for line in proc.stdout:
        results.put(line.decode().strip())
    if proc.wait() != 0:
        results.put(None)


class BookletList:
    """A list of booklet documents as a print source: what :func:`write_print_file` asks of the
    booklets it prints (``len``, ``coupon_count``, :meth:`firsts`, :meth:`chunk`), answered from
    the list. ``api.OrderBooklets`` answers the same from the store, a chunk at a time."""

    def __init__(self, booklets):
        self.booklets = booklets
        self.coupon_count = sum(len(booklet["coupon_serials"]) for booklet in booklets)

    def __len__(self):
        return len(self.booklets)

    def firsts(self):
        firsts = {}
        for booklet in self.booklets:
            firsts.setdefault(kind_of(booklet), booklet)
        return list(firsts.values())

    def chunk(self, start, stop):
        return self.booklets[start:stop]


def as_source(booklets):
    """``booklets`` as a print source: a list wrapped in :class:`BookletList`, a source as is."""
    return booklets if hasattr(booklets, "chunk") else BookletList(booklets)


def print_file(booklets, secret, title, map_url, workers=0, chunk_booklets=CHUNK_BOOKLETS):
    """The print file of ``booklets`` (stored booklet documents, in print order) as PDF bytes.

    ``workers``: processes to use (0 = one per core); small files are made in-process."""
    buffer = io.BytesIO()
    write_print_file(booklets, secret, title, map_url, buffer, workers, chunk_booklets)
    return buffer.getvalue()


def bound_malloc():
    """Keep glibc from growing the heap with the print file (Linux; elsewhere nothing).

    Each chunk passes large buffers through the parent (a job's JSON, a chunk's pages read
    back): glibc raises its mmap threshold when such a buffer is freed, then serves the next ones
    from the heap, which fragments and grows with the order. A fixed threshold (128 KiB, its
    default) gives every large buffer back to the system when freed. Measured in one eventlet
    process drawing from the store (no nameko): 121 MB peak for 3,000 booklets without, 99 MB
    with (500 booklets: 99 MB). The service's figures: docs/benchmarks.md, "Print file memory"."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024)
        libc.mallopt(M_TRIM_THRESHOLD, 128 * 1024)
    except (OSError, AttributeError):
        pass


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def write_print_file(
    booklets, secret, title, map_url, out, workers=0, chunk_booklets=CHUNK_BOOKLETS
):
    """Write the print file of ``booklets`` to ``out`` (a path or a binary file); its number
    of pages. ``booklets``: a list of booklet documents in print order, or a source that reads
    them a chunk at a time (``api.OrderBooklets``: ``len``, ``coupon_count``, ``firsts()``,
    ``chunk(start, stop)``). Each chunk's booklets are read, made into views (codes and all) and
    sent to a worker only when that chunk is sent; each chunk the workers drew is written to
    ``out`` as it is read back (one chunk in memory at a time, :class:`StreamingAssembly`).
    Memory: a few chunks of booklets and one offset per PDF object, not the order."""
    started = time.perf_counter()
    bound_malloc()
    source = as_source(booklets)
    # one booklet of each kind lays the static sheets out
    kinds, samples = views_of(source.firsts(), secret)
    template, keys = render_templates(kinds, samples, title, map_url)
    assembly = StreamingAssembly(template, keys, title)
    total, count = source.coupon_count, len(source)
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

    def materialize(job):
        start = job["chunk"] * chunk_booklets
        views = views_of(source.chunk(start, start + chunk_booklets), secret, kinds)[1]
        return {**job, "booklets": views}

    workers = workers or os.cpu_count() or 1
    with contextlib.ExitStack() as stack:
        if isinstance(out, (str, os.PathLike)):
            out = stack.enter_context(open(out, "wb"))
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="aptic-print-"))
        jobs = [
            assembly.job(i, None, Path(tmp, f"{i:05d}.bin"))
            for i in range(-(-count // chunk_booklets))
        ]
        assembly.open(out)
        if workers > 1 and len(jobs) > 1 and count >= PARALLEL_FROM:
            chunks = _run_in_workers(jobs, min(workers, len(jobs)), progress, materialize)
        else:
            chunks = _in_process(map(materialize, jobs), progress)
        for pages in chunks:
            assembly.add(pages)
        return assembly.finish()


def _in_process(jobs, progress):
    for job in jobs:
        yield overlay.render_chunk(job)
        progress(job["chunk"], sum(v["coupon_count"] for v in job["booklets"]))
