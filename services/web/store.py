"""The web service's own database: accounts, sessions, login failures, ratings."""

from datetime import timedelta

from pymongo.errors import DuplicateKeyError

from services.web import accounts
from shared.errors import Conflict, NotFound
from shared.ids import new_id
from shared.mongo import ASCENDING, DESCENDING, Repository
from shared.times import now


class CommentStatus:
    NONE = "none"  # the rating has no comment
    PENDING = "pending"  # waits for an operator
    APPROVED = "approved"  # shown on the venue's page
    REJECTED = "rejected"  # never shown


class WebRepository(Repository):
    INDEXES = {
        "users": [
            ([("email", ASCENDING)], {"unique": True}),
            ([("user_id", ASCENDING)], {"unique": True}),
        ],
        # the server deletes ended sessions and failures past the guard's window (TTL indexes)
        "sessions": [
            ([("token_hash", ASCENDING)], {"unique": True}),
            ([("expires_at", ASCENDING)], {"expireAfterSeconds": 0}),
        ],
        "login_failures": [
            ([("key", ASCENDING), ("at", ASCENDING)], {}),
            ([("at", ASCENDING)], {"expireAfterSeconds": 3600}),
        ],
        "ratings": [
            ([("redemption_id", ASCENDING)], {"unique": True}),
            ([("rating_id", ASCENDING)], {"unique": True}),
            ([("comment_status", ASCENDING), ("created_at", ASCENDING)], {}),
            ([("venue_id", ASCENDING), ("comment_status", ASCENDING)], {}),
        ],
        "venue_scores": [([("venue_id", ASCENDING)], {"unique": True})],
    }

    def ping(self):
        self.db.command("ping")
        return True

    # -- accounts ----------------------------------------------------------------------------
    def create_user(self, email, role, subject_id, password_hash):
        record = {
            "user_id": new_id("usr"),
            "email": email,
            "role": role,
            "subject_id": subject_id,
            "password_hash": password_hash,
            "created_at": now(),
        }
        try:
            self.db.users.insert_one(record)
        except DuplicateKeyError:
            raise Conflict(
                "an account with this e-mail exists", code="account_exists", details={}
            ) from None
        record.pop("_id", None)
        return record

    def user_by_email(self, email):
        return self.db.users.find_one({"email": email}, {"_id": 0})

    def user(self, user_id):
        found = self.db.users.find_one({"user_id": user_id}, {"_id": 0})
        if found is None:
            raise NotFound("no such account", code="account_not_found")
        return found

    def list_users(self):
        return list(self.db.users.find({}, {"_id": 0, "password_hash": 0}).sort("email"))

    def set_password(self, user_id, password_hash):
        self.db.users.update_one({"user_id": user_id}, {"$set": {"password_hash": password_hash}})

    # -- sessions ----------------------------------------------------------------------------
    def open_session(self, user, hours):
        token = accounts.new_token()
        self.db.sessions.insert_one(
            {
                "token_hash": accounts.token_hash(token),
                "user_id": user["user_id"],
                "email": user["email"],
                "role": user["role"],
                "subject_id": user["subject_id"],
                "created_at": now(),
                "expires_at": now() + timedelta(hours=hours),
            }
        )
        return token

    def session(self, token):
        """The person of a live session, or None."""
        if not token or len(token) > 100:
            return None
        found = self.db.sessions.find_one({"token_hash": accounts.token_hash(token)})
        if found is None or found["expires_at"] <= now():
            return None
        return accounts.Person(
            found["user_id"], found["email"], found["role"], found.get("subject_id")
        )

    def close_session(self, token):
        if token:
            self.db.sessions.delete_one({"token_hash": accounts.token_hash(token)})

    def close_other_sessions(self, user_id, keep_token):
        self.db.sessions.delete_many(
            {"user_id": user_id, "token_hash": {"$ne": accounts.token_hash(keep_token)}}
        )

    # -- the guessing guard ------------------------------------------------------------------
    def failures(self, key):
        """Failures of ``key`` (``account:<email>`` or ``address:<ip>``) in the window."""
        since = now() - accounts.WINDOW
        return self.db.login_failures.count_documents({"key": key, "at": {"$gte": since}})

    def record_failure(self, *keys):
        moment = now()
        self.db.login_failures.insert_many([{"key": key, "at": moment} for key in keys])

    def attempts(self, key, window):
        """Records of ``key`` in the last ``window`` (at most the TTL's hour): the public
        application form counts its applications per address with them."""
        since = now() - window
        return self.db.login_failures.count_documents({"key": key, "at": {"$gte": since}})

    def forget_failures(self, key):
        self.db.login_failures.delete_many({"key": key})

    # -- ratings -----------------------------------------------------------------------------
    def rating(self, redemption_id):
        return self.db.ratings.find_one({"redemption_id": redemption_id}, {"_id": 0})

    def add_rating(self, redemption_id, venue_id, score, comment):
        """Store a rating once per redemption (False if there was one) and count it."""
        record = {
            "rating_id": new_id("rat"),
            "redemption_id": redemption_id,
            "venue_id": venue_id,
            "score": score,
            "comment": comment or None,
            "comment_status": CommentStatus.PENDING if comment else CommentStatus.NONE,
            "created_at": now(),
        }
        try:
            self.db.ratings.insert_one(record)
        except DuplicateKeyError:
            return False
        self.db.venue_scores.update_one(
            {"venue_id": venue_id}, {"$inc": {"count": 1, "total": score}}, upsert=True
        )
        return True

    def scores(self, venue_ids):
        """``{venue_id: (count, total)}`` of the venues that have ratings."""
        found = self.db.venue_scores.find({"venue_id": {"$in": list(venue_ids)}}, {"_id": 0})
        return {s["venue_id"]: (s["count"], s["total"]) for s in found}

    def pending_comments(self, limit=100):
        query = {"comment_status": CommentStatus.PENDING}
        return list(self.db.ratings.find(query, {"_id": 0}).sort("created_at").limit(limit))

    def decide_comment(self, rating_id, approve):
        status = CommentStatus.APPROVED if approve else CommentStatus.REJECTED
        self.db.ratings.update_one(
            {"rating_id": rating_id, "comment_status": CommentStatus.PENDING},
            {"$set": {"comment_status": status, "decided_at": now()}},
        )

    def approved_comments(self, venue_id, limit=20):
        query = {"venue_id": venue_id, "comment_status": CommentStatus.APPROVED}
        found = self.db.ratings.find(query, {"_id": 0, "redemption_id": 0})
        return list(found.sort("created_at", DESCENDING).limit(limit))
