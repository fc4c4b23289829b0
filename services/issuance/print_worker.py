"""A print worker process: ``python -m services.issuance.print_worker``.

Reads jobs (JSON, one a line) on stdin, each a chunk of booklets (see ``overlay.render_chunk``);
writes each chunk's pages (pickled) to ``job["path"]``, then a line ``<chunk> <coupons>`` on
stdout (progress).
It needs no WeasyPrint and never sees the operator's secret (only the codes of its chunk)."""

import json
import pickle
import sys

from services.issuance.overlay import render_chunk


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        pages = render_chunk(job)
        with open(job["path"], "wb") as handle:
            pickle.dump(pages, handle, protocol=pickle.HIGHEST_PROTOCOL)
        coupons = sum(view["coupon_count"] for view in job["booklets"])
        sys.stdout.write(f"{job['chunk']} {coupons}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
