"""Writes docs/catalogue.md from the code itself: every service's RPC methods, every event payload
and every error code. A unit test fails when the file is not what the code says (run
``aptic catalogue > docs/catalogue.md`` after a change)."""

import importlib
import inspect

from marshmallow import fields

from aptic.registry import SERVICES, service_class
from shared import events

EVENTS = [
    ("ordering", "order_confirmed", events.OrderConfirmed),
    ("ordering", "order_cancelled", events.OrderCancelled),
    ("issuance", "booklets_issued", events.BookletsIssued),
    ("issuance", "booklet_activated", events.BookletActivated),
    ("issuance", "booklet_cancelled", events.BookletCancelled),
    ("catalog", "venue_accredited", "shared.contracts.schemas_catalog:VenueChanged"),
    ("catalog", "venue_suspended", "shared.contracts.schemas_catalog:VenueChanged"),
    ("catalog", "venue_updated", "shared.contracts.schemas_catalog:VenueChanged"),
    ("redemption", "coupons_redeemed", events.CouponsRedeemed),
    ("redemption", "redemption_voided", events.RedemptionVoided),
    ("settlement", "run_completed", events.RunCompleted),
    ("settlement", "coupons_expired", events.CouponsExpired),
]
OPTIONAL_EVENTS = [("ordering", "distributor_registered", "DistributorRegistered")]


def _load(ref):
    if not isinstance(ref, str):
        return ref
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def _field_type(field):
    if isinstance(field, fields.Nested):
        schema = field.schema
        return f"{type(schema).__name__}{'[]' if field.many else ''}"
    if isinstance(field, fields.List):
        return f"{_field_type(field.inner)}[]"
    return type(field).__name__.lower()


def _type_and_required(field):
    return [_field_type(field), "yes" if field.required else ""]


def schema_table(schema_cls, seen=None, columns=("type", "required"), cells=None, keep=None):
    """A schema's fields as a Markdown table, then its nested schemas' tables: after the field's
    name, the ``columns`` that ``cells(field)`` gives (type and required by default); only the
    fields ``keep(field)`` accepts, when given."""
    cells = cells or _type_and_required
    seen = seen if seen is not None else set()
    lines = ["| " + " | ".join(["field", *columns]) + " |", "|" + "---|" * (len(columns) + 1)]
    nested = []
    for name, field in schema_cls().fields.items():
        if keep is not None and not keep(field):
            continue
        lines.append("| " + " | ".join([f"`{field.data_key or name}`", *cells(field)]) + " |")
        inner = field.inner if isinstance(field, fields.List) else field
        if isinstance(inner, fields.Nested) and type(inner.schema) not in seen:
            seen.add(type(inner.schema))
            nested.append(type(inner.schema))
    text = "\n".join(lines)
    for sub in nested:
        table = schema_table(sub, seen, columns, cells, keep)
        text += f"\n\n`{sub.__name__}`:\n\n" + table
    return text


def rpc_methods(cls):
    from nameko.rpc import Rpc

    found = []
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        entrypoints = getattr(member, "nameko_entrypoints", set())
        if any(isinstance(e, Rpc) for e in entrypoints):
            signature = (
                str(inspect.signature(member)).replace("(self, ", "(").replace("(self)", "()")
            )
            doc = inspect.getdoc(member) or ""
            found.append((name, signature, doc.splitlines()[0] if doc else ""))
    return found


def error_codes():
    """Every error of the contract (shared/contracts/registry.py): its HTTP status as the gateway
    answers it, its code, the service it belongs to ("(kind)" for the kinds), its meaning."""
    from services.gateway.errors import status_and_body
    from shared.contracts import registry

    rows = set()
    for cls in registry.ALL_ERRORS:
        status, _ = status_and_body(cls())
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        service = registry.SERVICE_OF[cls]
        rows.add((status, cls.code, "(kind)" if service == "shared" else service, doc))
    return sorted(rows)


def render():
    out = [
        "# Catalogue of RPC methods, events and error codes",
        "",
        "Generated from the code by `aptic catalogue` (a test checks it is current). RPC methods are",
        "called as `<service>.<method>` over nameko RPC; events are dispatched as `<service>.<event>`",
        "with nameko events (one queue per consuming service, shared by its instances; at least once).",
        "",
        "## RPC methods",
    ]
    for name in SERVICES:
        out += ["", f"### `{name}`", ""]
        for method, signature, doc in rpc_methods(service_class(name)):
            out.append(f"- `{method}{signature}`: {doc}")
    out += ["", "## Events", ""]
    available = list(EVENTS)
    for source, event, attr in OPTIONAL_EVENTS:
        if hasattr(events, attr):
            available.append((source, event, getattr(events, attr)))
    for source, event, ref in available:
        schema = _load(ref)
        doc = (inspect.getdoc(schema) or "").splitlines()
        out += [
            f"### `{source}.{event}`",
            "",
            (doc[0] if doc else ""),
            "",
            schema_table(schema),
            "",
        ]
    out += [
        "## Error codes",
        "",
        "Each service's errors are defined in `shared/contracts/errors_<service>.py`, the kinds in",
        "`shared/errors.py`; all are listed in",
        "`shared/contracts/registry.py`, which the gateway imports (see [gateway.md](gateway.md)).",
        "",
        "| code | HTTP | service | meaning |",
        "|---|---|---|---|",
    ]
    for status, code, service, doc in error_codes():
        out.append(f"| `{code}` | {status} | {service} | {doc} |")
    out.append("")
    out.append(
        "A route may specialise a code at the place it raises (e.g. `missing_api_key`, "
        "`invalid_api_key`, `wrong_role`, `not_yours`, `invalid_json`, `route_not_found`); "
        "the HTTP status always follows the kind."
    )
    return "\n".join(out) + "\n"
