#!/usr/bin/env bash
# Every test tier, in two pytest processes at once (`make test`):
#   - beside: unit, store, checks, documents and property — no broker, mostly CPU (the money
#     state machine) and the storage server;
#   - in front: integration, e2e and browser — the real RabbitMQ, mostly waiting on it and on
#     storage; the broker restart test is among them, and nothing beside uses the broker.
# Each process starts its own storage server (or both use MONGO_URI, with databases of their own).
# The output of the tiers beside is printed when both are done; the exit status fails if either did.
set -u
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
beside_log=$(mktemp -t aptic-tests-beside.XXXXXX)
trap 'rm -f "$beside_log"' EXIT

"$BIN/pytest" -q tests/unit tests/store tests/checks tests/documents tests/property \
    >"$beside_log" 2>&1 &
beside=$!
echo "unit, store, checks, documents and property tiers: running beside (pid $beside), shown at the end"

"$BIN/pytest" -q tests/integration tests/e2e tests/browser "$@"
front_status=$?

wait "$beside"
beside_status=$?
echo
echo "---- unit, store, checks, documents and property tiers ----"
cat "$beside_log"
echo "---- integration, e2e, browser: exit $front_status; the tiers beside: exit $beside_status ----"
[ "$front_status" -eq 0 ] && [ "$beside_status" -eq 0 ]
