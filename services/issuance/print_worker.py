"""A print worker process: ``python -m services.issuance.print_worker``.

Reads jobs (JSON, one a line) on stdin, each a chunk of booklets (see ``overlay.render_chunk``);
writes each chunk's PDF objects to ``job["path"]`` and their offsets and pages to
``job["path"] + ".json"``, then a line ``<chunk> <coupons>`` on stdout (progress).
It needs no WeasyPrint and never sees the operator's secret (only the codes of its chunk)."""

import json
import sys

from services.issuance.overlay import render_chunk


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        data, offsets, pages = render_chunk(job)
        with open(job["path"], "wb") as handle:
            handle.write(data)
        with open(job["path"] + ".json", "w") as handle:
            json.dump({"offsets": offsets, "pages": pages}, handle)
        coupons = sum(view["coupon_count"] for view in job["booklets"])
        sys.stdout.write(f"{job['chunk']} {coupons}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
