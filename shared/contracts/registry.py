"""The error contract: every expected error of the platform, by service, in one list.

Importing this module defines every error class of every service, and so registers each with
nameko (``AppError.__init_subclass__``): an error a service raises then reaches any process that
imported it as an instance of the same class, whatever else that process imports. The gateway
imports it (``services/gateway/errors.py``) because it runs alone, in its own process or container,
and must answer each service's errors with the right HTTP status; ``aptic catalogue`` reads it to
list every code in docs/catalogue.md.

Importing it also registers each class under the path it had before it moved here
(``services.<service>.exceptions.<Class>``), so that a service still running the previous version
during a rolling deploy is understood too.

A unit test (tests/checks/test_error_contract.py) checks that every ``AppError`` subclass defined in
``services/`` or ``shared/`` is listed here, and that one code always means one HTTP status.
"""

from nameko.exceptions import deserialize_to_instance
from nameko.exceptions import registry as nameko_registry

from shared import errors
from shared.contracts import (
    errors_catalog,
    errors_issuance,
    errors_ordering,
    errors_redemption,
    errors_settlement,
)

# Where each service's errors are defined; "shared" holds the kinds, which any service (and the
# gateway itself) may raise as such, with a code of its own (e.g. ``Refused(code="rule_...")``).
MODULES = {
    "shared": errors,
    "catalog": errors_catalog,
    "ordering": errors_ordering,
    "issuance": errors_issuance,
    "redemption": errors_redemption,
    "settlement": errors_settlement,
}

# The kinds, each a direct subclass of AppError: the gateway maps each to one HTTP status.
KINDS = (
    errors.InvalidInput,
    errors.Unauthenticated,
    errors.Forbidden,
    errors.NotFound,
    errors.Conflict,
    errors.PayloadTooLarge,
    errors.LengthRequired,
    errors.UnsupportedMediaType,
    errors.Refused,
    errors.TooManyAttempts,
    errors.Unavailable,
)


def _defined_in(module):
    """The AppError classes a module defines (not those it imports), in the order it defines them."""
    return tuple(
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, errors.AppError)
        and value.__module__ == module.__name__
    )


ERRORS = {service: _defined_in(module) for service, module in MODULES.items()}
ALL_ERRORS = tuple(cls for classes in ERRORS.values() for cls in classes)
SERVICE_OF = {cls: service for service, classes in ERRORS.items() for cls in classes}


def kind_of(cls):
    """The kind an error class is of (:class:`AppError` itself for AppError)."""
    return next((kind for kind in KINDS if issubclass(cls, kind)), errors.AppError)


def former_path(cls):
    """The path nameko knew the class by before it moved to shared/contracts (None for kinds)."""
    service = SERVICE_OF.get(cls)
    if service in (None, "shared"):
        return None
    return f"services.{service}.exceptions.{cls.__name__}"


def register():
    """Register every class of the contract with nameko, under its path and its former one.

    Idempotent (defining the classes registered them already); returns the number of classes."""
    for cls in ALL_ERRORS:
        deserialize_to_instance(cls)
        path = former_path(cls)
        if path:
            nameko_registry.setdefault(path, cls)
    return len(ALL_ERRORS)


def kind_for(exc_type=None, code=None):
    """The kind of an error known only by its class name and code (a class this process does not
    have, e.g. from a newer service): that of the contract's classes with this code, or else with
    this class name, when they all agree; None when unknown or ambiguous."""
    for matches in (
        [cls for cls in ALL_ERRORS if code and cls.code == code],
        [cls for cls in ALL_ERRORS if exc_type and cls.__name__ == exc_type],
    ):
        kinds = {kind_of(cls) for cls in matches}
        if len(kinds) == 1:
            kind = kinds.pop()
            return None if kind is errors.AppError else kind
        if kinds:
            return None
    return None


register()
