"""Marshmallow base schemas shared by every payload of the platform."""

import re
from datetime import datetime

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate
from schwifty import IBAN

from shared import times
from shared.errors import validation_failed

# Text a person could not have meant, and that some readers (UTF-8 encoders, PDF, CSV, terminals)
# cannot take: lone UTF-16 surrogates, C0 controls but tab and newlines, DEL and C1 controls.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def unwritable_text(value):
    """Where ``value`` (JSON-like: dicts, lists, text) holds text that cannot be stored as
    written: ``{path: message}`` for each place (keys included), empty if none. Iterative, so
    that no nesting depth can exhaust the stack."""
    found, stack = {}, [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            match = _UNWRITABLE.search(item)
            if match:
                found[path or "body"] = f"character U+{ord(match.group()):04X} is not allowed"
        elif isinstance(item, dict):
            for key, inner in item.items():
                where = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and _UNWRITABLE.search(key):
                    found[f"{path or 'body'} (a key)"] = "a key holds a character not allowed"
                    continue
                stack.append((inner, where))
        elif isinstance(item, list | tuple):
            stack.extend((inner, f"{path}.{index}") for index, inner in enumerate(item))
    return found


class StrictSchema(Schema):
    """Inputs: unknown fields are an error, not silently dropped; no text holds a lone surrogate
    or a control character (one stored record must never make an answer fail to encode)."""

    class Meta:
        unknown = RAISE

    @pre_load(pass_collection=True)
    def refuse_unwritable_text(self, data, **kwargs):
        found = unwritable_text(data)
        if found:
            raise ValidationError(found)
        return data

    def load_or_raise(self, data, **kwargs):
        """Load ``data`` or raise :class:`shared.errors.ValidationFailed` with field messages."""
        if data is None:
            data = {}
        try:
            return self.load(data, **kwargs)
        except ValidationError as exc:
            raise validation_failed(exc.messages) from None


class EventSchema(Schema):
    """Event payloads: a newer producer may add fields, consumers ignore what they do not know."""

    class Meta:
        unknown = EXCLUDE

    def load_or_raise(self, data, **kwargs):
        try:
            return self.load(data, **kwargs)
        except ValidationError as exc:
            raise validation_failed(exc.messages) from None


def money(required=True, **kwargs):
    """A non-negative amount in integer cents."""
    return fields.Integer(required=required, strict=True, validate=validate.Range(min=0), **kwargs)


# The largest page offset a list takes (MongoDB's skip is a 64-bit integer: 2**63 was a 500).
MAX_OFFSET = 10_000_000
MAX_PAGE = 500  # the largest page a list answers (a larger ``limit`` is a validation error)


class PageQuery(StrictSchema):
    """A page of a list: ``limit`` items (1 to 500) after the first ``offset``; the database
    selects the page and counts the matches (``total``), nothing is cut silently."""

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET))


def whole(pattern, error=None):
    """A validator: the WHOLE text matches ``pattern``, in ASCII (``\\d`` is 0-9 only, and no
    final newline slips through as it does with ``$``)."""
    return validate.Regexp(re.compile(rf"\A(?:{pattern})\Z", re.ASCII), error=error)


# French territories, as the sponsors' and venues' payloads name them
DEPARTMENT = r"0[1-9]|[1-8][0-9]|9[0-5]|2[AB]|97[1-6]"  # a department's code (Corsica: 2A, 2B)
TOWN = r"[0-9]{5}|2[AB][0-9]{3}"  # the INSEE code of a commune


def department_field(**kwargs):
    return fields.String(validate=whole(DEPARTMENT, error="not a French department code"), **kwargs)


def town_field(**kwargs):
    return fields.String(validate=whole(TOWN, error="not an INSEE town code"), **kwargs)


def territory_field(**kwargs):
    """A department or a town: where a sponsor's booklets may be used."""
    return fields.String(
        validate=whole(f"{DEPARTMENT}|{TOWN}", error="not a department or INSEE town code"),
        **kwargs,
    )


def identifier(**kwargs):
    return fields.String(validate=validate.Length(min=1, max=64), **kwargs)


class UtcDateTime(fields.DateTime):
    """A time in an answer: the stored datetime (aware, or naive UTC) as ISO 8601 UTC text with a
    ``Z``, exactly as :func:`shared.times.iso` writes it (``2026-11-22T10:15:00.123000Z``;
    ``fields.DateTime`` would write ``+00:00``). Text is passed as it is (a store that still keeps
    times as text). Loaded, ISO 8601 text becomes an aware UTC datetime (:func:`shared.times.parse`).
    """

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None or isinstance(value, str):
            return value
        return times.iso(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, datetime):
            return times.aware(value)
        try:
            return times.parse(value)
        except (TypeError, ValueError, AttributeError):
            raise self.make_error("invalid", input=value, obj_type="datetime") from None


class ErrorBody(Schema):
    code = fields.String(required=True, metadata={"description": "stable snake_case code"})
    message = fields.String(required=True)
    details = fields.Dict()


class ErrorEnvelope(Schema):
    """``{"error": {"code", "message", "details"}}``, the body of every error answer."""

    error = fields.Nested(ErrorBody, required=True)


class ActorSchema(StrictSchema):
    """Who does something: every change of state records it (with when)."""

    role = fields.String(
        required=True,
        validate=validate.OneOf(["operator", "sponsor", "distributor", "venue", "system"]),
    )
    key_id = fields.String(load_default=None, allow_none=True)
    subject_id = fields.String(load_default=None, allow_none=True)
    label = fields.String(load_default=None, allow_none=True)


SYSTEM_ACTOR = {"role": "system", "key_id": None, "subject_id": None, "label": "system"}


class HistoryEntry(EventSchema):
    """One entry of an audit trail: a change of state, who made it, when and why."""

    status_from = fields.String(attribute="from", data_key="from", allow_none=True)
    status_to = fields.String(attribute="to", data_key="to")
    reason = fields.String(allow_none=True)
    by = fields.Dict()
    at = UtcDateTime()


class IbanField(fields.String):
    """An IBAN, checked (country format and check digits) with schwifty, loaded compact."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return IBAN(text).compact
        except ValueError as exc:
            raise ValidationError(f"invalid IBAN: {exc}") from None
