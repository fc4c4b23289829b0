"""Schemas of the answers the gateway shapes itself (lists, keys, health), for its OpenAPI document.

A list answers ``{<items>: [...], "total": n, "limit": n, "offset": n}`` when it is paged: the
database selects the page and counts the matches; nothing is cut silently (a ``limit`` above the
largest one is a 400 ``validation_error``).
"""

from marshmallow import Schema, fields

from services.gateway.auth import KeyOut
from shared.schemas import MAX_PAGE, PageQuery  # noqa: F401  (the routes' page query)

PAGE_DOC = {
    "total": "how many match in all (not only on this page)",
    "limit": "the page's size, as asked (or the default)",
    "offset": "how many matches were skipped before this page",
}


def listing(name, key, item, paged=True):
    """The schema of a list answer: ``{key: [item, ...]}``, with ``total``, ``limit`` and ``offset``
    when ``paged``."""
    attributes = {key: fields.List(fields.Nested(item), required=True)}
    if paged:
        attributes.update(
            {
                field: fields.Integer(required=True, metadata={"description": text})
                for field, text in PAGE_DOC.items()
            }
        )
    return Schema.from_dict(attributes, name=name)


class KeyCreatedOut(KeyOut):
    """A key just made: the key itself is in this answer only."""

    api_key = fields.String(metadata={"description": "the key, shown once: keep it"})


KeyListOut = listing("KeyListOut", "keys", KeyOut)


class KeyRevokedOut(Schema):
    key_id = fields.String(required=True)
    revoked = fields.Boolean(required=True)


class ServiceHealth(Schema):
    status = fields.String(required=True, metadata={"description": "ok or down"})
    reason = fields.String()


class HealthOut(Schema):
    status = fields.String(required=True, metadata={"description": "ok, or degraded (503)"})
    down = fields.List(fields.String(), required=True)
    services = fields.Dict(keys=fields.String(), values=fields.Nested(ServiceHealth))
