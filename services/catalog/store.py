"""The catalog's own database: venues with their services and history."""

from services.catalog.domain import VenueStatus
from shared.mongo import ASCENDING, Repository, update_and_get
from shared.outbox import OUTBOX_FIELD


class CatalogRepository(Repository):
    INDEXES = {
        "venues": [
            ([("id", ASCENDING)], {"unique": True}),
            ([("status", ASCENDING), ("location.lat", ASCENDING)], {}),
            ([("status", ASCENDING), ("department", ASCENDING)], {}),
            ([("status", ASCENDING), ("categories", ASCENDING)], {}),
        ]
    }

    @property
    def venues(self):
        return self.db.venues

    def insert_venue(self, venue):
        self.venues.insert_one(dict(venue))
        return self.get_venue(venue["id"])

    def get_venue(self, venue_id):
        return self.venues.find_one({"id": venue_id}, {"_id": 0, OUTBOX_FIELD: 0})

    def change_status(self, venue_id, version, new_status, entry, event):
        """Move the venue to ``new_status`` if it is still at ``version``; ``event`` goes to the
        outbox in the same atomic update. None if the venue changed meanwhile."""
        return update_and_get(
            self.venues,
            {"id": venue_id, "version": version},
            {
                "$set": {"status": new_status},
                "$push": {"history": entry, OUTBOX_FIELD: event},
                "$inc": {"version": 1},
            },
        )

    def add_service(self, venue_id, version, service, event):
        """Add ``service`` if the venue is still at ``version`` (None otherwise), with its event."""
        return update_and_get(
            self.venues,
            {"id": venue_id, "version": version},
            {
                "$push": {"services": service, OUTBOX_FIELD: event},
                "$addToSet": {"categories": service["category"]},
                "$inc": {"version": 1},
            },
        )

    def find_accredited(self, department=None, venue_type=None, category=None, box=None):
        """Accredited venues matching the filters; ``box`` pre-filters on coordinates."""
        query = {"status": VenueStatus.ACCREDITED.value}
        if department:
            query["department"] = department
        if venue_type:
            query["venue_type"] = venue_type
        if category:
            query["categories"] = category
        if box:
            min_lat, max_lat, min_lon, max_lon = box
            query["location.lat"] = {"$gte": min_lat, "$lte": max_lat}
            query["location.lon"] = {"$gte": min_lon, "$lte": max_lon}
        projection = {"_id": 0, "history": 0, OUTBOX_FIELD: 0}
        return self.venues.find(query, projection).sort("id", ASCENDING)

    def ping(self):
        self.db.command("ping")
        return True
