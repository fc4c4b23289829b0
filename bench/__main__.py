"""``python -m bench [name ...]`` (``make bench``): run the benchmarks one after the other."""

import importlib
import sys
import time

BENCHES = ["print_bench", "redemption_bench", "settlement_bench"]


def main(names):
    for name in names or BENCHES:
        module = importlib.import_module(f"bench.{name}")
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        module.main([])
        print(f"({name} took {time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
