"""``python -m bench [name ...]`` (``make bench``): run the benchmarks one after the other, each in
a process of its own (its own storage server, its own eventlet or none, its own peak memory).

Each prints its tables; ``docs/benchmarks.md`` keeps the figures of a run and what they mean.
"""

import subprocess
import sys
import time

BENCHES = ["print_bench", "issuance_bench", "redemption_bench", "settlement_bench"]


def main(names):
    failed = []
    for name in names or BENCHES:
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-W", "ignore", "-m", f"bench.{name}"])
        print(f"({name} took {time.perf_counter() - started:.0f} s)", flush=True)
        if code:
            failed.append(f"{name} (exit {code})")
    if failed:
        print(f"\nfailed: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
