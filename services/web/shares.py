"""Read-only links to a sponsor's dashboard, for its partners: a random 256-bit token in the
address, stored only as its SHA-256 (like sessions), with an expiry (the server deletes expired
links: a TTL index) and a revocation. Whoever holds a live link sees the same anonymised
dashboard as the sponsor, without logging in and without any action."""

from datetime import timedelta

from services.web import accounts
from shared.errors import NotFound
from shared.ids import new_id
from shared.mongo import ASCENDING, DESCENDING, Repository
from shared.times import now

DURATIONS = (7, 30, 90)  # days a link may live: the sponsor picks one
MAX_LABEL = 80
COLLECTION = "dashboard_shares"


class ShareRepository(Repository):
    INDEXES = {
        COLLECTION: [
            ([("token_hash", ASCENDING)], {"unique": True}),
            ([("share_id", ASCENDING)], {"unique": True}),
            ([("sponsor_id", ASCENDING), ("created_at", ASCENDING)], {}),
            ([("expires_at", ASCENDING)], {"expireAfterSeconds": 0}),
        ]
    }

    _indexed = set()  # databases whose indexes this process made

    @classmethod
    def of(cls, db):
        """The repository over ``db``, its indexes made once per process."""
        if id(db) not in cls._indexed:
            cls.ensure_indexes(db)
            cls._indexed.add(id(db))
        return cls(db)

    def create(self, sponsor_id, label, days, created_by, sponsor_name=""):
        """A new link: ``(token, record)``; the token is shown once and never stored."""
        if days not in DURATIONS:
            days = DURATIONS[1]
        token = accounts.new_token()
        at = now()
        record = {
            "share_id": new_id("shr"),
            "sponsor_id": sponsor_id,
            "sponsor_name": sponsor_name,  # shown to whoever opens the link
            "label": " ".join((label or "").split())[:MAX_LABEL],
            "token_hash": accounts.token_hash(token),
            "created_by": created_by,
            "created_at": at,
            "expires_at": at + timedelta(days=days),
            "revoked_at": None,
        }
        self.db[COLLECTION].insert_one(dict(record))
        return token, record

    def of_sponsor(self, sponsor_id):
        """The sponsor's links not yet expired (revoked ones too, marked), newest first."""
        found = (
            self.db[COLLECTION]
            .find({"sponsor_id": sponsor_id}, {"_id": 0, "token_hash": 0})
            .sort([("sponsor_id", ASCENDING), ("created_at", DESCENDING)])
        )
        return [r for r in found if r["expires_at"] > now()]

    def revoke(self, sponsor_id, share_id):
        """Revoke the sponsor's link ``share_id`` (another sponsor's: not found)."""
        done = self.db[COLLECTION].update_one(
            {"share_id": share_id, "sponsor_id": sponsor_id},
            {"$set": {"revoked_at": now()}},
        )
        if not done.matched_count:
            raise NotFound("no such link", code="share_not_found")

    def live(self, token):
        """The link of ``token`` if it is neither revoked nor expired, else None."""
        if not token or len(token) > 100:
            return None
        found = self.db[COLLECTION].find_one(
            {"token_hash": accounts.token_hash(token)}, {"_id": 0, "token_hash": 0}
        )
        if found is None or found["revoked_at"] is not None or found["expires_at"] <= now():
            return None
        return found
