"""The one table from errors to HTTP status (codes live on the error classes, see shared.errors)."""

from nameko.exceptions import RemoteError, UnknownService

from shared import errors

STATUS_BY_KIND = (
    (errors.InvalidInput, 400),
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.PayloadTooLarge, 413),
    (errors.Refused, 422),
    (errors.TooManyAttempts, 429),
    (errors.Unavailable, 503),
)


def status_and_body(exc):
    """HTTP status and error envelope for any exception; never a stack trace."""
    if isinstance(exc, errors.AppError):
        for kind, status in STATUS_BY_KIND:
            if isinstance(exc, kind):
                return status, {"error": exc.to_dict()}
        return 400, {"error": exc.to_dict()}
    if isinstance(exc, UnknownService):
        body = {"code": "service_unavailable", "message": "a service is not running", "details": {}}
        return 503, {"error": body}
    if isinstance(exc, RemoteError):
        body = {
            "code": "internal_error",
            "message": "a service failed; it has been logged",
            "details": {},
        }
        return 500, {"error": body}
    return 500, {"error": {"code": "internal_error", "message": "internal error", "details": {}}}
