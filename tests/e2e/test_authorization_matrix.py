"""The authorization matrix: every route of the gateway x every caller, each cell's status checked
on the running stack over HTTP.

Callers: anonymous (no key), operator, and for each of sponsor, distributor and venue the key of
the subject the world's objects belong to ("own") and of another one ("other"); the world is
``tests/e2e/gateway_world.py``. Rows run in the table's order, callers left to right, so a cell that
changes state (a suspension, an activation) is seen by the cells after it: the table says what each
request answers at its place. Every 401 is ``missing_api_key``; every 403 is ``wrong_role`` when the
caller's role is not one the route declares (``route(roles=)``), else ``not_yours``.

The routes come from the gateway's route table: a route added without a row here fails the test
(a row without a route too). ``AUTHZ_MATRIX_PRINT=1`` prints the table as the stack answers it,
to write a new row (check each cell by hand before copying it).
"""

import os

import pytest

from services.gateway.http import ROUTES
from services.gateway.service import GatewayService  # noqa: F401  (declares every route)
from tests.e2e.gateway_world import CALLERS, make_world, url_for

pytestmark = pytest.mark.e2e

# rows that change what the rows after them see (every booklet of the order blocked): printed last
LAST = {("POST", "/orders/{order_id}/booklets/block")}

# columns: anonymous, operator, sponsor (own), sponsor (other), distributor (own), distributor
# (other), venue (own), venue (other)
MATRIX = """
POST /venues                                                    401  201  403  403  403  403  403  403
POST /venues/{venue_id}/accreditation                           401  200  403  403  403  403  403  403
POST /venues/{venue_id}/services                                401  201  403  403  403  403  201  403
PUT  /venues/{venue_id}/services/{service_id}                   401  200  403  403  403  403  200  403
PUT  /venues/{venue_id}/opening-hours                           401  200  403  403  403  403  200  403
POST /venues/{venue_id}/services/{service_id}/approve           401  200  403  403  403  403  403  403
POST /venues/{venue_id}/services/{service_id}/refuse            401  200  403  403  403  403  403  403
GET  /services                                                  401  200  403  403  403  403  403  403
GET  /venues                                                    200  200  200  200  200  200  200  200
GET  /venues/{venue_id}                                         200  200  200  200  200  200  200  200
GET  /map.geojson                                               200  200  200  200  200  200  200  200
GET  /orders/{order_id}/booklets                                401  200  200  403  403  403  403  403
POST /orders/{order_id}/booklets/dispatch                       401  200  403  403  403  403  403  403
POST /booklets/{serial}/block                                   401  200  409  403  403  403  403  403
GET  /orders/{order_id}/print.pdf                               401  200  403  403  403  403  403  403
GET  /booklets/{serial}                                         401  200  200  403  200  403  403  403
GET  /booklets/{serial}/print.pdf                               401  200  403  403  403  403  403  403
POST /booklets/{serial}/dispatch                                401  409  403  403  403  403  403  403
POST /booklets/{serial}/assignment                              401  403  200  403  403  403  403  403
POST /booklets/{serial}/activation                              401  403  403  403  200  403  403  403
POST /booklets/{serial}/cancellation                            401  200  409  403  403  403  403  403
POST /sponsors                                                  401  201  403  403  403  403  403  403
GET  /sponsors/{sponsor_id}                                     401  200  200  403  403  403  403  403
POST /distributors                                              401  201  201  403  403  403  403  403
GET  /distributors/{distributor_id}                             401  200  200  403  200  403  403  403
POST /cofunding-campaigns                                       401  200  403  403  403  403  403  403
GET  /cofunding-campaigns/{year}                                401  200  403  403  403  403  403  403
POST /orders                                                    401  403  201  403  403  403  403  403
GET  /orders                                                    401  200  200  200  403  403  403  403
GET  /orders/{order_id}                                         401  200  200  403  403  403  403  403
POST /orders/{order_id}/submit                                  401  403  409  403  403  403  403  403
POST /orders/{order_id}/cancel                                  401  409  409  403  403  403  403  403
POST /orders/{order_id}/cofunding-decision                      401  409  403  403  403  403  403  403
POST /orders/{order_id}/payments                                401  200  403  403  403  403  403  403
POST /orders/{order_id}/dispatch                                401  200  403  403  403  403  403  403
GET  /orders/{order_id}/invoice.pdf                             401  200  200  403  403  403  403  403
GET  /coupons/{serial}                                          401  403  403  403  403  403  200  200
POST /redemptions                                               401  403  403  403  403  403  201  422
POST /redemptions/{redemption_id}/void                          401  409  403  403  403  403  409  403
GET  /redemptions/{redemption_id}                               401  200  403  403  403  403  200  403
GET  /redemptions                                               401  200  403  403  403  403  200  200
GET  /redemption-locks                                          401  200  403  403  403  403  403  403
POST /settlement-runs                                           401  200  403  403  403  403  403  403
GET  /settlement-runs                                           401  200  403  403  403  403  403  403
GET  /settlement-runs/{run_id}                                  401  200  403  403  403  403  403  403
GET  /settlement-runs/{run_id}/sepa.xml                         401  200  403  403  403  403  403  403
GET  /settlement-runs/{run_id}/summary.pdf                      401  200  403  403  403  403  403  403
GET  /settlement-runs/{run_id}/fund-statements/{department}.pdf 401  200  403  403  403  403  403  403
GET  /settlement-runs/{run_id}/statements/{venue_id}.pdf        401  200  403  403  403  403  200  403
POST /expiry-runs                                               401  200  403  403  403  403  403  403
GET  /expiry-runs/{run_id}                                      401  200  403  403  403  403  403  403
GET  /expiry-runs/{run_id}/credit-notes/{funder_id}.pdf         401  404  404  403  403  403  403  403
GET  /credit-notes                                              401  200  200  200  403  403  403  403
GET  /credit-notes/{reference}.pdf                              401  200  200  403  403  403  403  403
GET  /ledger/balance                                            401  200  403  403  403  403  403  403
GET  /sponsors/{sponsor_id}/dashboard                           401  200  200  403  403  403  403  403
GET  /sponsors/{sponsor_id}/expiry-alerts                       401  200  200  403  403  403  403  403
GET  /health                                                    200  200  200  200  200  200  200  200
GET  /openapi.json                                              200  200  200  200  200  200  200  200
POST /api-keys                                                  401  201  403  403  403  403  403  403
GET  /api-keys                                                  401  200  403  403  403  403  403  403
POST /api-keys/{key_id}/revoke                                  401  200  403  403  403  403  403  403
POST /orders/{order_id}/booklets/block                          401  200  200  403  403  403  403  403
"""


# a 403 of an allowed role whose code is not not_yours: a sponsor's booklet handed out to a
# distributor has left its hands (its codes are printed again by the operator only)
CODES = {("GET", "/booklets/{serial}/print.pdf", "sponsor"): "booklet_handed_out"}


def expected_code(route, caller, status):
    role = caller.removesuffix("_other")
    if status == 401:
        return "missing_api_key"
    if route.roles and role not in route.roles:
        return "wrong_role"
    return CODES.get((route.method, route.path, caller), "not_yours")


def parse(table):
    rows = {}
    for line in table.strip().splitlines():
        method, path, *cells = line.split()
        assert len(cells) == len(CALLERS), line
        assert (method, path) not in rows, f"two rows for {method} {path}"
        rows[(method, path)] = [int(cell) for cell in cells]
    return rows


def request(api, world, route, caller):
    kwargs = {"key": world["keys"][caller]}
    if route.body is not None:
        kwargs["json"] = world["bodies"][route.path]
    if route.path in world["queries"]:
        kwargs["params"] = world["queries"][route.path]
    return api.request(route.method, url_for(world, route.path), **kwargs)


def test_every_route_for_every_caller(api, operator_key, make_key):
    expected = parse(MATRIX)
    declared = [(r.method, r.path) for r in ROUTES]
    missing = [f"{m} {p}" for m, p in declared if (m, p) not in expected]
    unknown = [f"{m} {p}" for m, p in expected if (m, p) not in declared]
    printing = bool(os.environ.get("AUTHZ_MATRIX_PRINT"))
    if not printing:
        assert not missing, f"routes without a row in the matrix: {missing}"
        assert not unknown, f"rows of routes the gateway does not have: {unknown}"
    world = make_world(api, operator_key, make_key)
    by_route = {(r.method, r.path): r for r in ROUTES}
    order = list(expected) if not printing else sorted(declared, key=lambda r: r in LAST)

    wrong, printed = [], []
    for method, path in order:
        route = by_route[(method, path)]
        got = []
        for index, caller in enumerate(CALLERS):
            answer = request(api, world, route, caller)
            got.append(answer.status_code)
            want = expected.get((method, path), [None] * len(CALLERS))[index]
            where = f"{method} {path} as {caller}"
            if answer.status_code != want:
                wrong.append(f"{where}: {answer.status_code}, not {want}: {answer.text[:160]}")
                continue
            if answer.status_code in (401, 403):
                code = answer.json()["error"]["code"]
                if code != expected_code(route, caller, answer.status_code):
                    wrong.append(f"{where}: {code}, not {expected_code(route, caller, 403)}")
        printed.append(f"{method:5}{path:58}" + "".join(f"{s:5}" for s in got))
    if printing:
        print("\n" + "\n".join(printed))
    assert not wrong, f"{len(wrong)} cells differ:\n" + "\n".join(wrong)
