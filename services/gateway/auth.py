"""API keys: one role each, bound to a sponsor, distributor or venue; stored hashed.

A key is ``ak_`` + 43 URL-safe characters (256 random bits). Only its SHA-256 is stored: with that
much entropy a fast hash is enough (nobody can try 2**256 keys), and lookups stay one indexed read.
Its dates are BSON dates (aware UTC datetimes in Python); answers carry them as ISO text
(:class:`KeyOut`).
"""

import hashlib
import secrets
from dataclasses import dataclass

from marshmallow import ValidationError, fields, validate, validates_schema
from nameko.extensions import DependencyProvider

from services.gateway import limits
from shared.addresses import client_address, trusted_proxies
from shared.errors import Forbidden, NotFound, Unauthenticated
from shared.ids import new_id
from shared.mongo import ASCENDING, Repository, get_database
from shared.schemas import StrictSchema, UtcDateTime
from shared.times import now

ROLES = ("operator", "sponsor", "distributor", "venue")
SUBJECT_ROLES = {"sponsor", "distributor", "venue"}


class KeyInput(StrictSchema):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    subject_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    label = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))

    @validates_schema
    def check_subject(self, data, **kwargs):
        if data["role"] in SUBJECT_ROLES and not data.get("subject_id"):
            raise ValidationError(
                f"a {data['role']} key is bound to a {data['role']}: give its id", "subject_id"
            )
        if data["role"] == "operator" and data.get("subject_id"):
            raise ValidationError("an operator key is bound to nobody", "subject_id")


class KeyOut(StrictSchema):
    key_id = fields.String()
    role = fields.String()
    subject_id = fields.String(allow_none=True)
    label = fields.String(allow_none=True)
    created_at = UtcDateTime()
    revoked_at = UtcDateTime(allow_none=True)


def key_out(record, key=None):
    """A key's record as answers show it (dates as ISO text); with the key itself when just
    made (shown once)."""
    out = KeyOut().dump(record)
    return out if key is None else {**out, "api_key": key}


def hash_key(key):
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key's role and the sponsor, distributor or venue it is bound to."""

    key_id: str
    role: str
    subject_id: str | None
    label: str | None = None

    def actor(self):
        """As recorded in every audit trail entry."""
        return {
            "role": self.role,
            "key_id": self.key_id,
            "subject_id": self.subject_id,
            "label": self.label,
        }

    def is_operator(self):
        return self.role == "operator"

    def require_owner(self, role, subject_id):
        """Operators pass; otherwise the key must be of ``role`` and bound to ``subject_id``."""
        if self.role == "operator":
            return
        if self.role != role or self.subject_id != subject_id:
            raise Forbidden("this resource is not yours", code="not_yours")


class KeyRepository(Repository):
    TZ_AWARE = True
    INDEXES = {
        "api_keys": [
            ([("hash", ASCENDING)], {"unique": True}),
            ([("key_id", ASCENDING)], {"unique": True}),
        ]
    }

    def create(self, role, subject_id=None, label=None):
        key = "ak_" + secrets.token_urlsafe(32)
        record = {
            "key_id": new_id("key"),
            "hash": hash_key(key),
            "role": role,
            "subject_id": subject_id,
            "label": label,
            "created_at": now(),
            "revoked_at": None,
        }
        self.db.api_keys.insert_one(record)
        record.pop("_id", None)
        record.pop("hash")
        return key, record

    def find_active(self, key):
        return self.db.api_keys.find_one({"hash": hash_key(key), "revoked_at": None}, {"_id": 0})

    def revoke(self, key_id):
        result = self.db.api_keys.update_one(
            {"key_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": now()}}
        )
        if result.matched_count == 0:
            raise NotFound("no active key with this id", code="key_not_found")

    def list(self, limit=0, offset=0):
        """Keys, oldest first (then by id), ``offset`` of them skipped, at most ``limit`` (0: all);
        the database skips and limits."""
        cursor = self.db.api_keys.find({}, {"_id": 0, "hash": 0})
        cursor = cursor.sort([("created_at", ASCENDING), ("key_id", ASCENDING)])
        return list(cursor.skip(offset).limit(limit))

    def count(self):
        return self.db.api_keys.count_documents({})

    def ping(self):
        self.db.command("ping")
        return True


class Authenticator:
    """The caller of one request, checked against the roles its route declares (``route(roles=)``
    in :mod:`services.gateway.http`: the only place they are written)."""

    def __init__(self, keys, roles=(), limiter=None, path=None, proxies=0):
        self.keys = keys
        self.roles = tuple(roles)
        self.limiter = limiter
        self.path = path
        self.proxies = proxies  # TRUSTED_PROXIES (shared.addresses)

    def limit_anonymous(self, request):
        """On a public route, count a request without a key against the client address's
        rate limit (:mod:`services.gateway.limits`): 429 ``rate_limited`` past it."""
        if self.roles or self.limiter is None or self.path in limits.EXEMPT:
            return
        if request.headers.get("Authorization"):
            return
        self.limiter.hit(client_address(request, self.proxies))

    def require(self, request):
        """The caller's :class:`Principal`; 401 without a valid key, 403 for a role the route does
        not allow (a public route, ``roles`` empty, takes any valid key)."""
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthenticated("send 'Authorization: Bearer <api key>'", code="missing_api_key")
        record = self.keys.find_active(key.strip()) if len(key) < 200 else None
        if record is None:
            raise Unauthenticated("unknown or revoked API key", code="invalid_api_key")
        principal = Principal(
            record["key_id"], record["role"], record["subject_id"], record["label"]
        )
        if self.roles and principal.role not in self.roles:
            raise Forbidden(
                f"this needs a key of role {' or '.join(self.roles)}",
                details={"role": principal.role, "allowed": list(self.roles)},
                code="wrong_role",
            )
        return principal


class ApiKeys(DependencyProvider):
    """Injects an :class:`Authenticator` over the gateway's key store, with the roles of the
    route being served (none for an RPC method)."""

    def setup(self):
        self.db = get_database(
            self.container.config, self.container.service_name, KeyRepository.TZ_AWARE
        )
        KeyRepository.ensure_indexes(self.db)
        for collection, indexes in limits.INDEXES.items():
            for keys, options in indexes:
                self.db[collection].create_index(keys, **options)
        self.limit = limits.parse_limit(self.container.config.get(limits.LIMIT_KEY))
        self.proxies = trusted_proxies(self.container.config)

    def get_dependency(self, worker_ctx):
        spec = getattr(worker_ctx.entrypoint, "spec", None)
        return Authenticator(
            KeyRepository(self.db),
            getattr(spec, "roles", ()),
            limits.RateLimiter(self.db, self.limit),
            getattr(spec, "path", None),
            self.proxies,
        )
