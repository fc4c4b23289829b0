"""Events that cannot be lost: recorded in the same atomic update as the change they report.

Publishing after a database write leaves a gap: if the process dies (or the broker refuses) between the
two, the change is made and nobody is told — an order paid but never printed, a redemption never paid.
So a service puts the event in the very update that makes the change::

    repo.update({"id": order_id, "status": "submitted"},
                {"$set": {"status": "confirmed"}, "$push": {"outbox": outbox_entry("order_confirmed", payload)}})
    self.outbox.publish_pending(self.dispatch, "orders", {"id": order_id})

``publish_pending`` dispatches the document's pending events and removes each once the broker has
confirmed it; ``publish_entry`` does the same for one event the caller holds (it has just written
it), without reading the document again. A timer (``flush``) publishes whatever was left behind,
after ``grace_seconds``. An event may thus be published twice (never zero times): every consumer is
idempotent.
"""

from datetime import timedelta

from nameko.extensions import DependencyProvider

from shared import times
from shared.ids import new_id
from shared.mongo import ASCENDING, get_database

OUTBOX_FIELD = "outbox"
DEFAULT_GRACE_SECONDS = 10
OUTBOX_FLUSH_SECONDS = 5  # how often a service's timer looks for events left behind


def outbox_entry(event_type, payload):
    """An event to embed in a document update (``{"$push": {"outbox": entry}}``)."""
    return {
        "event_id": new_id("evt"),
        "event_type": event_type,
        "payload": payload,
        "created_at": times.now(),
    }


class OutboxHandle:
    def __init__(self, db, collections, grace_seconds):
        self.db = db
        self.collections = collections
        self.grace_seconds = grace_seconds

    def publish_pending(self, dispatch, collection, query):
        """Publish the pending events of the documents matching ``query`` (usually one)."""
        published = 0
        for doc in self.db[collection].find(
            {**query, OUTBOX_FIELD: {"$exists": True, "$ne": []}}, {OUTBOX_FIELD: 1}
        ):
            published += self._publish(dispatch, collection, doc)
        return published

    def publish_entry(self, dispatch, collection, doc_key, entry):
        """Publish one event the caller has in hand (it has just written it): no read. Then
        remove it from the outbox of the document ``doc_key`` finds (one ``$pull``). If the
        process dies in between, ``flush`` publishes it again later (at least once)."""
        dispatch(entry["event_type"], entry["payload"])
        self.db[collection].update_one(
            doc_key, {"$pull": {OUTBOX_FIELD: {"event_id": entry["event_id"]}}}
        )
        return 1

    def flush(self, dispatch):
        """Publish events left behind for longer than the grace period (the timer calls this)."""
        before = times.now() - timedelta(seconds=self.grace_seconds)
        published = 0
        for collection in self.collections:
            query = {f"{OUTBOX_FIELD}.created_at": {"$lte": before}}
            for doc in self.db[collection].find(query, {OUTBOX_FIELD: 1}):
                published += self._publish(dispatch, collection, doc)
        return published

    def _publish(self, dispatch, collection, doc):
        """Publish each entry this worker claims first: two workers looking at one document (a
        request and a replay of it, or the timer) never both publish the same event while the
        first is alive. The claim lapses after ``grace_seconds``, so an event whose publisher
        died is published by the timer (at least once, never lost)."""
        count = 0
        for entry in doc.get(OUTBOX_FIELD, []):
            if not self._claim(collection, doc["_id"], entry["event_id"]):
                continue  # another worker publishes it
            dispatch(entry["event_type"], entry["payload"])
            self.db[collection].update_one(
                {"_id": doc["_id"]}, {"$pull": {OUTBOX_FIELD: {"event_id": entry["event_id"]}}}
            )
            count += 1
        return count

    def _claim(self, collection, doc_id, event_id):
        at = times.now()
        query = {
            "_id": doc_id,
            OUTBOX_FIELD: {
                "$elemMatch": {"event_id": event_id, "claimed_until": {"$not": {"$gt": at}}}
            },
        }
        until = at + timedelta(seconds=self.grace_seconds)
        change = {"$set": {f"{OUTBOX_FIELD}.$.claimed_until": until}}
        return self.db[collection].update_one(query, change).modified_count == 1


class Outbox(DependencyProvider):
    """Injects an :class:`OutboxHandle` over the service's database for ``collections``."""

    def __init__(self, *collections, grace_seconds=DEFAULT_GRACE_SECONDS, **kwargs):
        self.collections = collections
        self.grace_seconds = grace_seconds
        self.db = None
        super().__init__(**kwargs)

    def setup(self):
        self.db = get_database(self.container.config, self.container.service_name)
        for collection in self.collections:
            self.db[collection].create_index(
                [(f"{OUTBOX_FIELD}.created_at", ASCENDING)], sparse=True
            )

    def get_dependency(self, worker_ctx):
        return OutboxHandle(self.db, self.collections, self.grace_seconds)
