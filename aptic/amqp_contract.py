"""The generated part of docs/amqp.md: the AMQP wire contract read from the code itself.

Names and properties come from nameko's own code (the exchanges, queues and headers it declares
and sends), the RPC methods and their argument schemas from the service classes, the events and
their consumers from the contract (``aptic.catalogue.EVENTS``) and the services' handlers, the
error codes from ``shared/contracts/registry.py``. A unit test (tests/checks/test_amqp_docs.py)
fails when docs/amqp.md, or the pika client's constants and error table, say otherwise.

``python -m aptic.amqp_contract`` rewrites the generated part of docs/amqp.md, and the error table
of the pika client (``ERROR_KINDS`` in shared/amqp_client.py), in place.
"""

import ast
import inspect
import sys
import textwrap
from pathlib import Path

from marshmallow import fields, validate

from aptic import catalogue
from aptic.catalogue import EVENTS, OPTIONAL_EVENTS, _load
from aptic.registry import SERVICES, service_class

DOC = Path(__file__).resolve().parent.parent / "docs" / "amqp.md"
BEGIN = (
    "<!-- generated: python -m aptic.amqp_contract (tests/checks/test_amqp_docs.py checks it) -->"
)
END = "<!-- end of the generated part -->"


# -- the names and properties nameko puts on the wire ------------------------------------------
def wire():
    """``{name: value}`` as nameko 2.14 declares and sends them (and the platform's header)."""
    import kombu.serialization
    from nameko import constants, rpc
    from nameko.standalone.events import get_event_exchange

    from shared import amqp_client
    from shared.logs import CORRELATION_KEY

    rpc_exchange = rpc.get_rpc_exchange({})
    event_exchange = get_event_exchange("{service}", {})
    content_type = kombu.serialization.registry._encoders[constants.DEFAULT_SERIALIZER].content_type
    return {
        "rpc_exchange": rpc_exchange.name,
        "rpc_exchange_type": rpc_exchange.type,
        "rpc_exchange_durable": rpc_exchange.durable,
        "rpc_queue": rpc.RPC_QUEUE_TEMPLATE.format("{service}"),
        "reply_queue": rpc.RPC_REPLY_QUEUE_TEMPLATE.format("{client}", "{reply_key}"),
        "reply_queue_expires_ms": rpc.RPC_REPLY_QUEUE_TTL,
        "event_exchange": event_exchange.name,
        "event_exchange_type": event_exchange.type,
        "event_exchange_durable": event_exchange.durable,
        "header_prefix": constants.HEADER_PREFIX + ".",
        "correlation_header": f"{constants.HEADER_PREFIX}.{CORRELATION_KEY}",
        "call_id_stack_header": f"{constants.HEADER_PREFIX}.{constants.CALL_ID_STACK_CONTEXT_KEY}",
        "content_type": content_type,
        "delivery_mode": constants.PERSISTENT,
        "heartbeat": constants.DEFAULT_HEARTBEAT,
        "event_queue_arguments": dict(amqp_client.EVENT_QUEUE_ARGUMENTS),
        "dead_letter_exchange": amqp_client.DEAD_LETTER_EXCHANGE,
        "dead_letter_queue": amqp_client.DEAD_LETTER_QUEUE,
        "dead_letter_headers": [
            amqp_client.DEAD_HEADER_PREFIX + h for h in amqp_client.DEAD_HEADERS
        ],
    }


def _wire_table():
    w = wire()
    rows = [
        (
            "RPC exchange",
            f"`{w['rpc_exchange']}`, {w['rpc_exchange_type']}, "
            f"{'durable' if w['rpc_exchange_durable'] else 'transient'}",
            "`nameko.rpc.get_rpc_exchange`",
        ),
        (
            "a service's RPC queue",
            f"`{w['rpc_queue']}`, durable, bound to `{w['rpc_exchange']}` with `{{service}}.*`",
            "`nameko.rpc.RpcConsumer.setup`",
        ),
        ("request routing key", "`{service}.{method}`", "`nameko.rpc.MethodProxy._call`"),
        (
            "nameko's reply queues",
            f"`{w['reply_queue']}`, bound to `{w['rpc_exchange']}` with `{{reply_key}}`, "
            f"`x-expires` {w['reply_queue_expires_ms']} ms",
            "`nameko.rpc.ReplyListener.setup`",
        ),
        (
            "a service's event exchange",
            f"`{w['event_exchange']}`, {w['event_exchange_type']}, "
            f"{'durable' if w['event_exchange_durable'] else 'transient'}",
            "`nameko.standalone.events.get_event_exchange`",
        ),
        (
            "an event handler's queue",
            "`evt-{source}-{event_type}--{service}.{method}`, durable, bound to "
            "`{source}.events` with `{event_type}`; arguments "
            + ", ".join(f"`{k}` = `{v}`" for k, v in w["event_queue_arguments"].items()),
            "`nameko.events.EventHandler.setup`, `shared.entrypoints.ReliableEventHandler.setup`",
        ),
        (
            "dead letters",
            f"exchange `{w['dead_letter_exchange']}`, fanout, durable; queue "
            f"`{w['dead_letter_queue']}`, durable (classic), bound to it",
            "`shared.amqp_client.DEAD_LETTER_EXCHANGE`",
        ),
        (
            "a dead letter's headers",
            "its own, and " + ", ".join(f"`{h}`" for h in w["dead_letter_headers"]),
            "`shared.amqp_client.dead_letter_headers`",
        ),
        ("context headers", f"`{w['header_prefix']}{{key}}`", "`nameko.constants.HEADER_PREFIX`"),
        (
            "the platform's correlation id (logs)",
            f"header `{w['correlation_header']}`",
            "`shared.logs.CORRELATION_KEY`",
        ),
        (
            "nameko's call chain (optional)",
            f"header `{w['call_id_stack_header']}`, a list of `{{service}}.{{method}}.{{uuid}}`",
            "`nameko.containers.WorkerContext`",
        ),
        ("content type", f"`{w['content_type']}`, UTF-8", "`nameko.constants.DEFAULT_SERIALIZER`"),
        (
            "delivery mode",
            f"{w['delivery_mode']} (persistent): requests, replies, events",
            "`nameko.constants.PERSISTENT`",
        ),
        ("heartbeat", f"{w['heartbeat']} s", "`nameko.constants.DEFAULT_HEARTBEAT`"),
    ]
    lines = ["| what | on the wire | in nameko's code |", "|---|---|---|"]
    lines += [f"| {what} | {value} | {source} |" for what, value, source in rows]
    return "\n".join(lines)


# -- schemas as JSON --------------------------------------------------------------------------------
_JSON_TYPES = [
    (fields.Boolean, "boolean"),
    (fields.Integer, "integer"),
    (fields.Number, "number"),
    (fields.AwareDateTime, "string (ISO 8601 date-time)"),
    (fields.DateTime, "string (ISO 8601 date-time)"),
    (fields.Date, "string (YYYY-MM-DD)"),
    (fields.String, "string"),
    (fields.Dict, "object"),
    (fields.Raw, "any"),
]


def json_type(field):
    if isinstance(field, fields.Nested):
        return f"`{type(field.schema).__name__}`{'[]' if field.many else ''}"
    if isinstance(field, fields.List):
        return f"{json_type(field.inner)}[]"
    return next((name for cls, name in _JSON_TYPES if isinstance(field, cls)), "any")


def _rules(field):
    notes = []
    if field.allow_none:
        notes.append("null allowed")
    for rule in field.validators:
        if isinstance(rule, validate.OneOf):
            notes.append("one of " + ", ".join(f"`{c}`" for c in rule.choices))
        elif isinstance(rule, validate.Range):
            bounds = [f">= {rule.min}" if rule.min is not None else "", ""]
            bounds[1] = f"<= {rule.max}" if rule.max is not None else ""
            notes.append(" and ".join(b for b in bounds if b))
        elif isinstance(rule, validate.Length) and rule.max is not None:
            notes.append(f"length {rule.min or 0} to {rule.max}")
    return "; ".join(notes)


def schema_table(schema_cls):
    """A schema's fields as JSON (name, type, required, rules), then its nested schemas'; fields
    only dumped are left out (what a caller sends)."""
    return catalogue.schema_table(
        schema_cls,
        columns=("JSON type", "required", "rules"),
        cells=lambda field: [json_type(field), "yes" if field.required else "", _rules(field)],
        keep=lambda field: not field.dump_only,
    )


def _own_doc(cls):
    """The first line of a class's own docstring (not one it inherits), or ''."""
    doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
    return doc.splitlines()[0] if doc else ""


# -- RPC methods and the schemas of their arguments ---------------------------------------------
def _function_tree(func):
    return ast.parse(textwrap.dedent(inspect.getsource(func))).body[0]


def loaded_schemas(func, module=None, skip_self=True):
    """``{parameter: schema class name}`` for the parameters ``func`` loads with a schema
    (``Schema().load_or_raise(param)``, also through a helper of its module such as
    ``_actor(actor)``)."""
    module = module or sys.modules[func.__module__]
    tree = _function_tree(func)
    params = [a.arg for a in tree.args.args][1 if skip_self else 0 :]
    found = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Name)):
            continue
        argument = node.args[0].id
        if argument not in params or argument in found:
            continue
        target = node.func
        if (
            isinstance(target, ast.Attribute)
            and target.attr == "load_or_raise"
            and isinstance(target.value, ast.Call)
            and isinstance(target.value.func, ast.Name)
        ):
            found[argument] = target.value.func.id
        elif isinstance(target, ast.Name):
            helper = getattr(module, target.id, None)
            if inspect.isfunction(helper) and helper.__module__ == module.__name__:
                inner = loaded_schemas(helper, module, skip_self=False)
                first = [a.arg for a in _function_tree(helper).args.args][:1]
                if first and first[0] in inner:
                    found[argument] = inner[first[0]]
    return found


def _dumped(node):
    """The schema a ``Schema(...).dump(...)`` expression dumps with: ``Name`` or ``Name[]``."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "dump"
        and isinstance(node.func.value, ast.Call)
        and isinstance(node.func.value.func, ast.Name)
    ):
        many = any(
            k.arg == "many" and isinstance(k.value, ast.Constant) and k.value.value
            for k in node.func.value.keywords
        )
        return node.func.value.func.id + ("[]" if many else "")
    return None


def result_shape(func):
    """What the method answers, from its ``return`` statements: a schema's dump (`RedemptionOut`),
    an object of such dumps (``{redemption: RedemptionOut, created}``), or ``None`` when unsaid."""
    shapes = []
    for node in ast.walk(_function_tree(func)):
        if not isinstance(node, ast.Return) or node.value is None:
            continue
        value = node.value
        shape = _dumped(value)
        if shape:
            shape = f"`{shape}`"
        elif isinstance(value, ast.Dict) and all(isinstance(k, ast.Constant) for k in value.keys):
            parts = []
            for key, item in zip(value.keys, value.values, strict=True):
                dumped = _dumped(item)
                parts.append(f"{key.value}: {dumped}" if dumped else str(key.value))
            shape = "`{" + ", ".join(parts) + "}`"
        if shape and shape not in shapes:
            shapes.append(shape)
    return " or ".join(shapes) if shapes else None


def rpc_methods(cls):
    """``[(method, [(parameter, default or None, schema class or None)], result)]``."""
    from nameko.rpc import Rpc

    methods = []
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        if not any(isinstance(e, Rpc) for e in getattr(member, "nameko_entrypoints", ())):
            continue
        module = sys.modules[member.__module__]  # a part of the service may be a mixin's module
        schemas = loaded_schemas(member, module)
        params = []
        for param in list(inspect.signature(member).parameters.values())[1:]:
            schema = getattr(module, schemas[param.name], None) if param.name in schemas else None
            default = None if param.default is inspect.Parameter.empty else repr(param.default)
            params.append((param.name, default, schema))
        methods.append((name, params, result_shape(member)))
    return methods


def _schema_names(schemas):
    """A name for each schema class: its own, or ``<package>.<name>`` when two share it."""
    counts = {}
    for cls in schemas:
        counts[cls.__name__] = counts.get(cls.__name__, 0) + 1
    names = {}
    for cls in schemas:
        package = cls.__module__.split(".")[-2] if "." in cls.__module__ else cls.__module__
        names[cls] = cls.__name__ if counts[cls.__name__] == 1 else f"{package}.{cls.__name__}"
    return names


def _argument(name, default, schema, names):
    text = f"`{name}`"
    if schema is not None:
        text += f": `{names[schema]}`"
    if default is not None:
        text += f" (default `{default}`)"
    return text


# -- events and who consumes them ---------------------------------------------------------------
def event_handlers():
    """``{(source, event_type): [queue names of the platform's handlers]}``."""
    from nameko.events import EventHandler

    found = {}
    for service in SERVICES:
        cls = service_class(service)
        for method, member in inspect.getmembers(cls, inspect.isfunction):
            for entrypoint in getattr(member, "nameko_entrypoints", ()):
                if isinstance(entrypoint, EventHandler):
                    key = (entrypoint.source_service, entrypoint.event_type)
                    queue = f"evt-{key[0]}-{key[1]}--{cls.name}.{method}"
                    found.setdefault(key, []).append(queue)
    return {key: sorted(queues) for key, queues in found.items()}


def events():
    from shared import events as contract

    found = [(source, event, _load(ref)) for source, event, ref in EVENTS]
    for source, event, attr in OPTIONAL_EVENTS:
        if hasattr(contract, attr):
            found.append((source, event, getattr(contract, attr)))
    return found


# -- errors --------------------------------------------------------------------------------------
def error_kinds():
    """``{kind name: (codes, sorted)}``: what ``shared.amqp_client.ERROR_KINDS`` must hold."""
    from shared.contracts import registry

    kinds = {"AppError": set(), **{kind.__name__: set() for kind in registry.KINDS}}
    for cls in registry.ALL_ERRORS:
        kinds[registry.kind_of(cls).__name__].add(cls.code)
    return {kind: tuple(sorted(codes)) for kind, codes in kinds.items()}


def error_rows():
    from nameko.exceptions import get_module_path

    from shared.contracts import registry

    rows = []
    for cls in registry.ALL_ERRORS:
        rows.append((cls.code, registry.kind_of(cls).__name__, cls.__name__, get_module_path(cls)))
    return sorted(rows)


# -- the whole generated part ----------------------------------------------------------------------
def render():
    out = [
        BEGIN,
        "",
        "## Names and properties",
        "",
        _wire_table(),
        "",
        "## RPC methods",
        "",
        "Every method of every service: its routing key and its positional arguments (`args`);",
        "an argument loaded with a schema names it (its table is below; unknown fields are",
        "refused). The result is what the named schema dumps (`X[]`: a list of them); where no",
        "schema is named, see the service's page in `docs/`.",
    ]
    methods = {service: rpc_methods(service_class(service)) for service in SERVICES}
    used = {
        schema
        for found in methods.values()
        for _, params, _ in found
        for _, _, schema in params
        if schema is not None
    }
    names = _schema_names(sorted(used, key=lambda c: (c.__name__, c.__module__)))
    for service in SERVICES:
        out += [
            "",
            f"### `{service}`: queue `rpc-{service}`",
            "",
            "| routing key | `args` | result |",
            "|---|---|---|",
        ]
        for method, params, result in methods[service]:
            arguments = ", ".join(_argument(*p, names) for p in params) or "(none)"
            out.append(f"| `{service}.{method}` | {arguments} | {result or ''} |")
    out += ["", "### Argument schemas"]
    for schema, name in sorted(names.items(), key=lambda item: item[1]):
        doc = _own_doc(schema)
        where = f"`{schema.__module__}.{schema.__name__}`" + (f": {doc}" if doc else "")
        out += ["", f"#### `{name}`", "", where, "", schema_table(schema)]
    from shared import amqp_client

    handlers = event_handlers()
    out += [
        "",
        "## Events",
        "",
        "Each event is published to the exchange `<source>.events` with the event type as routing",
        "key; its body is the JSON object below (a consumer ignores fields it does not know). The",
        "platform's own consumers are the queues listed (durable quorum queues, one per handler).",
        "A handler that fails on an event puts it back on its queue (pauses doubling from 1 s);",
        f"after `EVENT_DELIVERY_LIMIT` failed deliveries (default {amqp_client.DELIVERY_LIMIT},",
        "counted by the queue's `x-delivery-count` header) it publishes the event, as received",
        f"with the headers above, to `{amqp_client.DEAD_LETTER_EXCHANGE}` and acknowledges it;",
        "the queue's own `x-delivery-limit` dead-letters an event that keeps killing its consumer",
        "(the broker's `x-death` header then says why). `aptic events dead` lists them, `aptic",
        "events replay` publishes them again to their queue through the default exchange (see",
        "[operations.md](operations.md)).",
    ]
    for source, event, schema in events():
        queues = handlers.get((source, event), [])
        doc = _own_doc(schema).removeprefix(f"``{source}.{event}``: ")
        out += [
            "",
            f"### `{source}.{event}`",
            "",
            f"Exchange `{source}.events`, routing key `{event}`: {doc}",
            "",
            "Consumed by: " + (", ".join(f"`{q}`" for q in queues) or "no service of the platform"),
            "",
            schema_table(schema),
        ]
    out += [
        "",
        "## Error codes on the wire",
        "",
        "`exc_args[2]` of the envelope; `exc_type` and `exc_path` name the class that raised it,",
        "`kind` the class it derives from in `shared/errors.py` (its HTTP status at the gateway:",
        "[catalogue.md](catalogue.md)). A kind may also be raised with a code of its own (e.g.",
        "`NotFound` with `key_not_found`): then `exc_type` is the kind.",
        "",
        "| code | kind | `exc_type` | `exc_path` |",
        "|---|---|---|---|",
    ]
    for code, kind, exc_type, exc_path in error_rows():
        out.append(f"| `{code}` | {kind} | `{exc_type}` | `{exc_path}` |")
    out += ["", END]
    return "\n".join(out) + "\n"


CLIENT = Path(__file__).resolve().parent.parent / "shared" / "amqp_client.py"
TABLE_BEGIN, TABLE_END = "# -- generated: ERROR_KINDS --", "# -- end of ERROR_KINDS --"


def render_error_kinds():
    """``ERROR_KINDS = {...}`` as Python source, laid out as ruff formats it (one item a line)."""
    out = [TABLE_BEGIN, "ERROR_KINDS = {"]
    for kind, codes in error_kinds().items():
        if len(codes) == 1:
            out.append(f'    "{kind}": ("{codes[0]}",),')
            continue
        out.append(f'    "{kind}": (')
        out += [f'        "{code}",' for code in codes]
        out.append("    ),")
    out += ["}", TABLE_END]
    return "\n".join(out) + "\n"


def generated_part(text):
    """The generated part of a doc's text (from BEGIN to END, both included)."""
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end] + "\n"


def _replace(path, begin, end, rendered):
    text = path.read_text()
    start, stop = text.index(begin), text.index(end) + len(end) + 1
    path.write_text(text[:start] + rendered + text[stop:])


def write(doc=DOC, client=CLIENT):
    """Rewrite the generated part of docs/amqp.md and the client's ERROR_KINDS."""
    _replace(doc, BEGIN, END, render())
    _replace(client, TABLE_BEGIN, TABLE_END, render_error_kinds())


if __name__ == "__main__":  # pragma: no cover
    write()
