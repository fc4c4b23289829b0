"""Errors that cross service boundaries.

Every expected error of a service is a subclass of one of the *kinds* below and carries a stable
``code`` (snake_case, part of the public contract), a human ``message`` and ``details``. Subclasses
are registered with nameko (``shared/contracts/__init__.py``), so that an error raised in a service arrives in
another process as an instance of the same class (not a bare ``RemoteError``), provided that process
defined the class: each service's errors are therefore defined in ``shared/contracts/`` (one module
per service, all listed in ``shared/contracts/registry.py``, which the gateway imports), never in a
service's own folder. The gateway maps kinds to HTTP status in one table
(``services/gateway/errors.py``).
"""

import json

_registrars = []  # called with every error class: nameko's, from shared/contracts/__init__.py


def register_error_classes(registrar):
    """Call ``registrar(cls)`` for :class:`AppError` and every subclass, defined now or later.

    ``shared/contracts/__init__.py`` gives nameko's ``deserialize_to_instance``, so that an error
    raised in a service arrives in another process as its own class. This module imports no
    nameko: a program without it (``shared.amqp_client``) raises and catches the same classes."""
    _registrars.append(registrar)
    pending = [AppError]
    while pending:
        cls = pending.pop()
        registrar(cls)
        pending.extend(cls.__subclasses__())


class AppError(Exception):
    """Base of every expected error. Never raise it directly: raise one of its kinds."""

    code = "error"

    def __init__(self, message=None, details=None, code=None):
        message = message or (self.__doc__ or "").strip().splitlines()[0]
        if isinstance(details, str):  # as it travels: JSON text, so that numbers stay numbers
            details = json.loads(details)
        self.message = message
        self.details = details or {}
        self.code = code or type(self).code
        super().__init__(message, json.dumps(self.details, default=str), self.code)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for registrar in _registrars:
            registrar(cls)

    def __str__(self):
        return f"{self.code}: {self.message}"

    def to_dict(self):
        return {"code": self.code, "message": self.message, "details": self.details}


# -- the kinds: one per HTTP status of the public API (docs/gateway.md) ----------------------
class InvalidInput(AppError):
    """The request is malformed."""

    code = "invalid_input"


class Unauthenticated(AppError):
    """No API key, or an unknown one."""

    code = "unauthenticated"


class Forbidden(AppError):
    """This key may not do that."""

    code = "forbidden"


class NotFound(AppError):
    """No such resource."""

    code = "not_found"


class Conflict(AppError):
    """The request conflicts with the current state."""

    code = "conflict"


class Refused(AppError):
    """The request is well formed but a business rule refuses it."""

    code = "refused"


class TooManyAttempts(AppError):
    """Too many attempts: wait before trying again."""

    code = "too_many_attempts"


class PayloadTooLarge(AppError):
    """The request body is too large."""

    code = "payload_too_large"


class LengthRequired(AppError):
    """A body must say its length (Content-Length); chunked bodies are not taken."""

    code = "length_required"


class UnsupportedMediaType(AppError):
    """The body must be JSON, sent as Content-Type: application/json."""

    code = "unsupported_media_type"


class Unavailable(AppError):
    """A service needed for this request does not answer."""

    code = "service_unavailable"


class ValidationFailed(InvalidInput):
    """Some fields are invalid."""

    code = "validation_error"


def validation_failed(messages):
    """A :class:`ValidationFailed` with marshmallow's field messages as details."""
    return ValidationFailed("some fields are invalid", details={"fields": messages})
