"""The ordering service's own database: sponsors, distributors, orders, co-funding campaigns,
invoice numbers. Every change of an order is one conditional update on its ``version``.

Times are BSON dates, read back as aware UTC datetimes (``shared.times``)."""

from shared.mongo import ASCENDING, DESCENDING, Repository, update_and_get
from shared.numbering import number_once
from shared.outbox import OUTBOX_FIELD
from shared.times import aware

HIDDEN = {"_id": 0, OUTBOX_FIELD: 0}


class OrderingRepository(Repository):
    TZ_AWARE = True
    INDEXES = {
        "sponsors": [([("id", ASCENDING)], {"unique": True})],
        "distributors": [
            ([("id", ASCENDING)], {"unique": True}),
            ([("sponsor_id", ASCENDING), ("id", ASCENDING)], {}),
        ],
        "orders": [
            ([("id", ASCENDING)], {"unique": True}),
            ([("sponsor_id", ASCENDING), ("created_at", ASCENDING)], {}),
            ([("status", ASCENDING), ("created_at", ASCENDING)], {}),
            ([("created_at", ASCENDING)], {}),
        ],
        "campaigns": [([("year", ASCENDING)], {"unique": True})],
        "invoices": [
            ([("year", ASCENDING), ("number", DESCENDING)], {"unique": True}),
            ([("order_id", ASCENDING)], {"unique": True}),
        ],
    }

    # -- sponsors and distributors ----------------------------------------------------------------
    def insert_sponsor(self, sponsor):
        self.db.sponsors.insert_one(dict(sponsor))
        return self.get_sponsor(sponsor["id"])

    def get_sponsor(self, sponsor_id):
        return self.db.sponsors.find_one({"id": sponsor_id}, HIDDEN)

    def insert_distributor(self, distributor, event):
        """Insert the distributor with its ``distributor_registered`` event in its outbox."""
        self.db.distributors.insert_one({**distributor, OUTBOX_FIELD: [event]})
        return self.get_distributor(distributor["id"])

    def get_distributor(self, distributor_id):
        return self.db.distributors.find_one({"id": distributor_id}, HIDDEN)

    def distributors_of(self, sponsor_id, limit=1000):
        """A sponsor's distributors (on its index), by name."""
        found = list(self.db.distributors.find({"sponsor_id": sponsor_id}, HIDDEN).limit(limit))
        return sorted(found, key=lambda d: (d["name"].casefold(), d["id"]))

    # -- orders -----------------------------------------------------------------------------------
    def insert_order(self, order):
        self.db.orders.insert_one(dict(order))
        return self.get_order(order["id"])

    def get_order(self, order_id):
        return self.db.orders.find_one({"id": order_id}, HIDDEN)

    def list_orders(self, sponsor_id=None, status=None, limit=50, offset=0):
        query = {}
        if sponsor_id:
            query["sponsor_id"] = sponsor_id
        if status:
            query["status"] = status
        total = self.db.orders.count_documents(query)
        cursor = (
            self.db.orders.find(query, {**HIDDEN, "history": 0})
            .sort("created_at", ASCENDING)
            .skip(offset)
            .limit(limit)
        )
        return list(cursor), total

    def update_order(self, order_id, version, changes, entries=(), events=()):
        """Apply ``changes`` (``$set``) if the order is still at ``version``, pushing history
        ``entries`` and outbox ``events`` in the same atomic update.

        None if the order changed meanwhile."""
        push = {}
        if entries:
            push["history"] = {"$each": list(entries)}
        if events:
            push[OUTBOX_FIELD] = {"$each": list(events)}
        update = {"$set": dict(changes), "$inc": {"version": 1}}
        if push:
            update["$push"] = push
        doc = update_and_get(self.db.orders, {"id": order_id, "version": version}, update)
        if doc is not None:
            doc.pop(OUTBOX_FIELD, None)
        return doc

    def set_invoice_if_missing(self, order_id, invoice):
        """Record the invoice on the order unless one is already there (never rewritten)."""
        self.db.orders.update_one(
            {"id": order_id, "invoice.reference": None}, {"$set": {"invoice": invoice}}
        )
        return self.get_order(order_id)

    # -- invoice numbers: one continuous sequence per year --------------------------------------
    def invoice_number(self, order_id, issued_at):
        """``(number, issued_at)`` of the order's invoice: the next number of the year of
        ``issued_at`` (an aware datetime; its year in UTC), or the number and date it already
        has (:func:`shared.numbering.number_once`, on the unique indexes (year, number) and
        order_id)."""
        issued_at = aware(issued_at)
        year = issued_at.year
        invoice = number_once(
            self.db.invoices,
            {"order_id": order_id},
            {"year": year},
            lambda number: {
                "year": year,
                "number": number,
                "order_id": order_id,
                "issued_at": issued_at,
            },
        )
        return invoice["number"], invoice["issued_at"]

    # -- co-funding campaigns -------------------------------------------------------------------
    def get_campaign(self, year):
        return self.db.campaigns.find_one({"year": year}, {"_id": 0, "reservations": 0})

    def ensure_campaign(self, campaign):
        """The campaign of ``campaign['year']``, created from ``campaign`` if there is none."""
        update_and_get(
            self.db.campaigns,
            {"year": campaign["year"]},
            {"$setOnInsert": {**campaign, "updated_at": None, "history": [], "reservations": {}}},
            upsert=True,
        )
        return self.get_campaign(campaign["year"])

    def set_campaign(
        self, year, rate_bp, envelope_cents, previous_envelope_cents, entry, minimum=None
    ):
        """Set rate and envelope; what is left moves by the envelope's change, in one update that
        fails (None) if the envelope changed meanwhile or if it would leave less than reserved."""
        delta = envelope_cents - previous_envelope_cents
        return update_and_get(
            self.db.campaigns,
            {
                "year": year,
                "envelope_cents": previous_envelope_cents,
                "remaining_cents": {"$gte": -delta},
            },
            {
                "$set": {
                    "rate_bp": rate_bp,
                    "envelope_cents": envelope_cents,
                    **(minimum or {}),
                    "updated_at": entry["at"],
                },
                "$inc": {"remaining_cents": delta},
                "$push": {"history": entry},
            },
        )

    def reserve_envelope(self, year, order_id, amount_cents):
        """Reserve the order's share on the year's envelope if that much is left; the amount
        reserved for the order (also when it already was), or None.

        One conditional update takes the amount and records it under the order's id, so two
        orders racing for the last of the envelope cannot both get it, and an order never holds
        two reservations."""
        slot = f"reservations.{order_id}"
        result = self.db.campaigns.update_one(
            {"year": year, slot: {"$exists": False}, "remaining_cents": {"$gte": amount_cents}},
            {"$inc": {"remaining_cents": -amount_cents}, "$set": {slot: amount_cents}},
        )
        if result.modified_count == 1:
            return amount_cents
        campaign = self.db.campaigns.find_one({"year": year, slot: {"$exists": True}})
        return campaign["reservations"][order_id] if campaign else None

    def release_envelope(self, year, order_id):
        """Give the order's reservation back to the envelope; idempotent (a second call, or an
        order that holds none, changes nothing)."""
        slot = f"reservations.{order_id}"
        campaign = self.db.campaigns.find_one({"year": year, slot: {"$exists": True}})
        if campaign is None:
            return 0
        amount = campaign["reservations"][order_id]
        result = self.db.campaigns.update_one(
            {"year": year, slot: amount},
            {"$inc": {"remaining_cents": amount}, "$unset": {slot: ""}},
        )
        return amount if result.modified_count else 0

    def ping(self):
        self.db.command("ping")
        return True
