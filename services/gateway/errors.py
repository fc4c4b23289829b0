"""The one table from errors to HTTP status (codes live on the error classes, see shared.errors).

The gateway runs alone (its own process or container): it knows every service's errors from the
error contract, ``shared.contracts.registry``, imported here, not from whatever service modules it
happens to import. An error whose class it still lacks (a newer service) arrives as nameko's
``RemoteError``; when its code or class name is one of the contract's, it keeps its kind's status.
"""

import json
import re

from kombu.exceptions import ConnectionError as AmqpConnectionError  # amqp's, re-exported
from kombu.exceptions import OperationalError
from nameko.exceptions import RemoteError, UnknownService

from shared import errors
from shared.contracts import registry

registry.register()  # every service's errors arrive as themselves, whatever else is imported

STATUS_BY_KIND = (
    (errors.InvalidInput, 400),
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.PayloadTooLarge, 413),
    (errors.LengthRequired, 411),
    (errors.UnsupportedMediaType, 415),
    (errors.Refused, 422),
    (errors.TooManyAttempts, 429),
    (errors.Unavailable, 503),
)

CODE = re.compile(r"[a-z][a-z0-9_]*\Z")
# the broker out of reach (refused, cut, or refusing logins while it starts): the services cannot
# be asked, which is an outage to wait out (503), not a failure of the platform's code (500)
BROKER_ERRORS = (OperationalError, AmqpConnectionError, ConnectionError)


def known_remote_error(exc, data=None):
    """An error of the right kind for a ``RemoteError`` whose code or class name the contract knows
    (``str(AppError)`` is ``"<code>: <message>"``), else None. ``data``, nameko's serialized error
    when at hand, gives the details too (an AppError's args are message, details as JSON, code)."""
    if not isinstance(exc, RemoteError) or not isinstance(exc.value, str):
        return None
    code, _, message = exc.value.partition(": ")
    details = None
    args = (data or {}).get("exc_args") or []
    if len(args) == 3 and all(isinstance(arg, str) for arg in args):
        message, details, code = args
        try:
            details = json.loads(details)
        except ValueError:
            details = None
    if not CODE.match(code):
        return None
    kind = registry.kind_for(exc.exc_type, code)
    if kind is None:
        return None
    return kind(message or None, details if isinstance(details, dict) else None, code)


def status_and_body(exc):
    """HTTP status and error envelope for any exception; never a stack trace."""
    exc = known_remote_error(exc) or exc
    if isinstance(exc, errors.AppError):
        for kind, status in STATUS_BY_KIND:
            if isinstance(exc, kind):
                return status, {"error": exc.to_dict()}
        return 400, {"error": exc.to_dict()}
    if isinstance(exc, UnknownService):
        body = {"code": "service_unavailable", "message": "a service is not running", "details": {}}
        return 503, {"error": body}
    if isinstance(exc, BROKER_ERRORS):
        message = "the services cannot be reached for now: try again in a moment"
        return 503, {"error": {"code": "service_unavailable", "message": message, "details": {}}}
    if isinstance(exc, RemoteError):
        body = {
            "code": "internal_error",
            "message": "a service failed; it has been logged",
            "details": {},
        }
        return 500, {"error": body}
    return 500, {"error": {"code": "internal_error", "message": "internal error", "details": {}}}
