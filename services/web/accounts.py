"""People's accounts: roles, password hashing, sessions, the guard against password guessing.

Plain rules here (no I/O); the store (``store.py``) keeps them. A password is hashed with
argon2id (argon2-cffi's defaults); a session is a random token in a cookie, stored only as its
SHA-256 (like API keys: 256 random bits need no slow hash)."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD = 12  # characters: a sentence is easier to keep than symbols
MAX_PASSWORD = 200

# the guessing guard: failures counted over a sliding window, per account and per address
WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20


class Role(StrEnum):
    OPERATOR = "operator"  # the scheme's team: bound to nobody
    VENUE = "venue"  # staff of one venue (its desk)
    SPONSOR = "sponsor"  # staff of one sponsor
    DISTRIBUTOR = "distributor"  # staff of one distributor


SUBJECT_ROLES = {Role.VENUE, Role.SPONSOR, Role.DISTRIBUTOR}
HOME = {  # where each role lands after logging in
    Role.OPERATOR: "/operateur",
    Role.VENUE: "/guichet",
    Role.SPONSOR: "/espace",
    Role.DISTRIBUTOR: "/distribution",
}

_hasher = PasswordHasher()
# verified when the account does not exist, so that an unknown e-mail takes as long as a known one
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password):
    return _hasher.hash(password)


def password_matches(stored_hash, password):
    """Whether ``password`` is the account's (``stored_hash`` None: never, in the same time)."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def normalize_email(email):
    return (email or "").strip().lower()


def new_token():
    """A session's token (the cookie): 256 random bits."""
    return secrets.token_urlsafe(32)


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def sign(secret, *parts):
    """An HMAC-SHA256 of ``parts`` (hex, 32 characters): CSRF tokens, rating links."""
    message = "\x1f".join(parts).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def same(a, b):
    return hmac.compare_digest(str(a or ""), str(b or ""))


@dataclass(frozen=True)
class Person:
    """Who is logged in, as a session knows them."""

    user_id: str
    email: str
    role: str
    subject_id: str | None

    def actor(self):
        """As recorded in the other services' audit trails."""
        return {
            "role": self.role,
            "key_id": None,
            "subject_id": self.subject_id,
            "label": f"web: {self.email}",
        }


def too_many(account_failures, address_failures):
    """Whether a login must be refused without even checking the password."""
    return (
        account_failures >= MAX_FAILURES_PER_ACCOUNT or address_failures >= MAX_FAILURES_PER_ADDRESS
    )
