"""The gateway's HTTP entrypoint: JSON in and out, the error envelope, body limits, OpenAPI routes."""

import functools
import json
import logging
import re
from dataclasses import dataclass, field

from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Response

from services.gateway.errors import status_and_body
from shared.entrypoints import MeasuredHttpHandler
from shared.errors import (
    AppError,
    InvalidInput,
    LengthRequired,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from shared.logs import CORRELATION_KEY

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
MAX_BODY_BYTES = 64 * 1024  # the largest legitimate body (an order with many lines) is a few KiB
MAX_JSON_DEPTH = 32  # the deepest legitimate body (an order's lines, a location) nests 4 levels


def json_response(data, status=200, headers=None, mimetype="application/json"):
    """A JSON answer in UTF-8. Text that UTF-8 cannot carry (a lone surrogate stored before
    inputs were checked) is escaped (``\\ud800``) instead of failing the whole answer."""
    text = json.dumps(data, ensure_ascii=False)
    try:
        body = text.encode("utf-8")
    except UnicodeEncodeError:
        body = json.dumps(data, ensure_ascii=True).encode("ascii")
    return Response(body, status=status, headers=headers, mimetype=mimetype)


def wants_async(request):
    """Whether the client asked not to wait (``Prefer: respond-async``, RFC 7240)."""
    prefer = request.headers.get("Prefer") or ""
    return "respond-async" in {p.strip().split("=", 1)[0].lower() for p in prefer.split(",")}


def stored_file_response(request, record, mimetype, read_chunk):
    """A file stored by a service, answered as it is read: ``read_chunk(index)`` (an RPC) gives
    its bytes ``chunk_bytes`` at a time, pulled while the answer is sent, so that neither the
    gateway nor a message holds the whole file. ``record``: ``filename``, ``size``,
    ``chunk_bytes``, ``sha256`` (the ``ETag``; ``If-None-Match`` with it answers 304)."""
    etag = record["sha256"]
    headers = {
        "Content-Disposition": f'inline; filename="{record["filename"]}"',
        "ETag": f'"{etag}"',
        "Cache-Control": "private, no-cache",
    }
    if etag in request.if_none_match:
        return Response(status=304, headers=headers)
    size, step = record["size"], record["chunk_bytes"]

    def body():
        sent = 0
        for index in range(-(-size // step)):
            chunk = read_chunk(index)
            sent += len(chunk)
            yield chunk
        if sent != size:  # the connection ends short of Content-Length: the client sees it
            log.error("stored file %s: %s bytes sent of %s", record["filename"], sent, size)

    headers["Content-Length"] = str(size)
    return Response(body(), status=200, mimetype=mimetype, headers=headers, direct_passthrough=True)


def error_response(exc):
    status, body = status_and_body(exc)
    if status >= 500:
        log.error("request failed: %r", exc)
    retry = body["error"].get("details", {}).get("retry_after") if status == 429 else None
    headers = {"Retry-After": str(retry)} if isinstance(retry, int) else None
    return json_response(body, status, headers=headers)


def nesting_depth(raw):
    """How deep the arrays and objects of a JSON text nest (brackets inside strings skipped),
    read before parsing so that no body can exhaust the parser's stack."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # closing quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def read_json(request):
    """The request's JSON object body, or an ``invalid_json`` / ``payload_too_large`` error;
    a body must come with its length (411) and as ``application/json`` (415)."""
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        raise LengthRequired(details={"max_bytes": MAX_BODY_BYTES})
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise PayloadTooLarge(details={"max_bytes": MAX_BODY_BYTES}) from None
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(details={"max_bytes": MAX_BODY_BYTES})
    if not raw:
        return {}
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(details={"content_type": request.mimetype[:100]})
    if nesting_depth(raw) > MAX_JSON_DEPTH:
        raise InvalidInput(
            f"the body nests deeper than {MAX_JSON_DEPTH} levels",
            code="invalid_json",
            details={"max_depth": MAX_JSON_DEPTH},
        )
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidInput("the body is not valid JSON", code="invalid_json") from None
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", code="invalid_json")
    return data


def query_args(request, *names):
    """Query string as a dict of the named parameters that are present (single values)."""
    return {name: request.args.get(name) for name in names if request.args.get(name) is not None}


CORS_METHODS = "GET, POST"
CORS_HEADERS = "Authorization, Content-Type, X-Correlation-Id"
CORS_MAX_AGE = "600"


def cors_origins(config):
    """The origins of ``CORS_ORIGINS`` (comma- or space-separated, e.g.
    ``https://app.example.org``; ``*``: any): none by default, and then no browser page of
    another origin reads an answer."""
    raw = (config or {}).get("CORS_ORIGINS") or ""
    return frozenset(o.strip().rstrip("/") for o in re.split(r"[,\s]+", str(raw)) if o.strip())


class Cors:
    """The CORS policy, around the whole API: an answer to an allowed origin names it
    (``Access-Control-Allow-Origin``, ``Vary: Origin``); a preflight from an allowed origin is a
    ``204`` with the methods and headers the API takes, from another origin a ``403``
    ``cors_origin_not_allowed``; no origin allowed unless configured."""

    def __init__(self, app, origins):
        self.app, self.origins = app, origins

    def allows(self, origin):
        return bool(origin) and ("*" in self.origins or origin in self.origins)

    def __call__(self, environ, start_response):
        origin = environ.get("HTTP_ORIGIN", "")
        allowed = self.allows(origin)
        preflight = environ["REQUEST_METHOD"] == "OPTIONS" and (
            "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ
        )
        if preflight:
            if not allowed:
                body = {
                    "error": {
                        "code": "cors_origin_not_allowed",
                        "message": "this origin may not call the API from a browser",
                        "details": {},
                    }
                }
                return json_response(body, 403)(environ, start_response)
            headers = {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": CORS_METHODS,
                "Access-Control-Allow-Headers": CORS_HEADERS,
                "Access-Control-Max-Age": CORS_MAX_AGE,
                "Vary": "Origin",
            }
            return Response(status=204, headers=headers)(environ, start_response)
        if not allowed:
            return self.app(environ, start_response)

        def start(status, headers, exc_info=None):
            headers = [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
            headers += [
                ("Access-Control-Allow-Origin", origin),
                ("Access-Control-Expose-Headers", "Retry-After, X-Correlation-Id"),
                ("Vary", "Origin"),
            ]
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


class ApiWebServer(WebServer):
    """Unknown paths and wrong methods answer with the JSON error envelope too; a client's
    ``X-Correlation-Id`` (if sane) becomes the request's correlation id; the CORS policy
    (:class:`Cors`, ``CORS_ORIGINS``) applies to every answer."""

    def context_data_from_headers(self, request):
        given = request.headers.get("X-Correlation-Id", "")
        if given and len(given) <= 64 and given.replace("-", "").isalnum():
            return {CORRELATION_KEY: given}
        return {}

    def get_wsgi_app(self):
        app = WsgiApp(self)

        def json_errors(environ, start_response):
            try:
                app.url_map.bind_to_environ(environ).match()
            except HTTPException as exc:
                code = {404: "route_not_found", 405: "method_not_allowed"}.get(
                    exc.code, "http_error"
                )
                body = {
                    "error": {"code": code, "message": exc.description or exc.name, "details": {}}
                }
                return json_response(body, exc.code)(environ, start_response)
            return app(environ, start_response)

        return Cors(json_errors, cors_origins(self.container.config))


class ApiHandler(MeasuredHttpHandler):
    """A route of the API; ``spec`` (its :class:`RouteSpec`) says who may call it: the gateway's
    :class:`~services.gateway.auth.ApiKeys` reads the roles from there, nowhere else."""

    server = ApiWebServer()

    def __init__(self, method, url, spec=None, **kwargs):
        self.spec = spec
        super().__init__(method, url, **kwargs)

    def handle_request(self, request):
        request.max_content_length = MAX_BODY_BYTES
        if request.content_length and request.content_length > MAX_BODY_BYTES:
            return error_response(PayloadTooLarge(details={"max_bytes": MAX_BODY_BYTES}))
        return super().handle_request(request)

    def response_from_exception(self, exc):
        return error_response(exc)


@dataclass
class RouteSpec:
    """What the API says of a route: the one place its roles are declared (OpenAPI shows them,
    the gateway enforces them, the authorization matrix tests them)."""

    method: str
    path: str  # below /api/v1, OpenAPI style: /venues/{venue_id}
    name: str  # the gateway's method
    summary: str
    tag: str
    roles: tuple = ()  # empty: public
    body: object = None
    response: object = None
    status: int = 200
    query: object = None
    content: str = "application/json"
    also: tuple = ()  # other success statuses with the same answer (200 for a repeated request)
    errors: dict = field(default_factory=dict)  # status -> codes this route may answer
    accepted: object = None  # the 202 answer when the client sends ``Prefer: respond-async``


ROUTES: list[RouteSpec] = []


def _limited(fn):
    @functools.wraps(fn)
    def limited(self, request, *args, **kwargs):
        self.auth.limit_anonymous(request)
        return fn(self, request, *args, **kwargs)

    return limited


_CONVERTER = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def route(
    method,
    path,
    *,
    summary,
    tag,
    roles=(),
    body=None,
    response=None,
    status=200,
    query=None,
    content="application/json",
    also=(),
    errors=None,
    accepted=None,
):
    """Declare an HTTP route of the API (``path`` below ``/api/v1``), and its OpenAPI entry.

    ``roles``: who may call it (empty = public). Declared here only: the method authenticates
    with ``self.auth.require(request)``, which checks the caller's role against these (401 without
    a valid key, 403 ``wrong_role``); ownership (a venue's own resources) stays in the method.
    ``errors``: ``{status: (code, ...)}`` the route may answer besides those of every route
    (see :mod:`services.gateway.openapi`).
    """

    def register(fn):
        spec = RouteSpec(
            method=method,
            path=_CONVERTER.sub(r"{\1}", path),
            name=fn.__name__,
            summary=summary,
            tag=tag,
            roles=tuple(roles),
            body=body,
            response=response,
            status=status,
            query=query,
            content=content,
            also=tuple(also),
            errors=dict(errors or {}),
            accepted=accepted,
        )
        ROUTES.append(spec)
        if not spec.roles:  # public: requests without a key count against a rate limit
            fn = _limited(fn)
        # a refusal (AppError) is an answer: logged as one INFO line (shared.logs), not an error
        entrypoint = ApiHandler.decorator(
            method, API_PREFIX + path, expected_exceptions=AppError, spec=spec
        )
        return entrypoint(fn)

    return register
