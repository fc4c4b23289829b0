"""The catalog's own database: venues with their services (each with its approval status and
history) and history.

A venue keeps its ``location`` as clients give and see it (``{lat, lon}``) and, for the database,
the same point as GeoJSON in ``GEO_FIELD``, under a 2dsphere index: the database finds the venues
near a point and computes their distances (``$geoNear``).

Times (``created_at``, the audit trail's ``at``) are BSON dates, read back as aware UTC datetimes
(``shared.times``).
"""

import pymongo
from pymongo.errors import OperationFailure

from services.catalog.domain import DEFAULT_RADIUS_KM, geojson_point
from shared.contracts.schemas_catalog import VenueStatus
from shared.mongo import ASCENDING, Repository, update_and_get
from shared.outbox import OUTBOX_FIELD

GEO_FIELD = "geo"  # the location as a GeoJSON Point, for the 2dsphere index
GEO_INDEX = "geo_2dsphere_status_1"
# Indexes no query uses any more, dropped when the indexes are set up: the bounding-box
# pre-filter of the search that computed distances in Python.
OBSOLETE_INDEXES = ("status_1_location.lat_1",)
INDEX_NOT_FOUND = 27  # server error code: dropped meanwhile by another instance

# Never shown to the public (IBAN and SIRET are left out by the public schema).
HIDDEN = {"_id": 0, "history": 0, OUTBOX_FIELD: 0, GEO_FIELD: 0}


def accredited_filter(department=None, venue_type=None, category=None):
    """The query of accredited venues matching the optional filters."""
    query = {"status": VenueStatus.ACCREDITED.value}
    if department:
        query["department"] = department
    if venue_type:
        query["venue_type"] = venue_type
    if category:
        query["categories"] = category
    return query


def search_pipeline(
    department=None,
    venue_type=None,
    category=None,
    near=None,
    radius_km=DEFAULT_RADIUS_KM,
    skip=0,
    limit=50,
):
    """The aggregation of a search: one document ``{total: [{n}], venues: [...]}``.

    With ``near`` (``(lat, lon)``) it starts with ``$geoNear`` on the 2dsphere index (the filters
    go in its ``query``): only venues within ``radius_km``, nearest first (then by id), each with
    ``distance_km`` as the database computes it, rounded to the metre. Without it, accredited
    venues by id. Paging (``skip``, ``limit``) is done in the pipeline.
    """
    query = accredited_filter(department, venue_type, category)
    if near is None:
        head, order, distance = [{"$match": query}], {"id": ASCENDING}, []
    else:
        lat, lon = near
        head = [
            {
                "$geoNear": {
                    "near": geojson_point({"lat": lat, "lon": lon}),
                    "key": GEO_FIELD,
                    "spherical": True,
                    "distanceField": "distance_km",
                    "distanceMultiplier": 0.001,  # the server's metres, in kilometres
                    "maxDistance": radius_km * 1000,  # metres
                    "query": query,
                }
            }
        ]
        order = {"distance_km": ASCENDING, "id": ASCENDING}
        distance = [{"$set": {"distance_km": {"$round": ["$distance_km", 3]}}}]
    page = [{"$sort": order}, {"$skip": skip}, {"$limit": limit}, *distance, {"$project": HIDDEN}]
    return [*head, {"$facet": {"total": [{"$count": "n"}], "venues": page}}]


class CatalogRepository(Repository):
    TZ_AWARE = True
    INDEXES = {
        "venues": [
            ([("id", ASCENDING)], {"unique": True}),
            # 2dsphereIndexVersion: MongoDB's default, stated: SecantusDB refuses to declare again
            # (on every start) a 2dsphere index declared without it, as a conflicting spec.
            (
                [(GEO_FIELD, pymongo.GEOSPHERE), ("status", ASCENDING)],
                {"name": GEO_INDEX, "2dsphereIndexVersion": 3},
            ),
            ([("status", ASCENDING), ("department", ASCENDING)], {}),
            ([("status", ASCENDING), ("categories", ASCENDING)], {}),
            # the operator's list of services awaiting approval (services_by_status)
            ([("services.status", ASCENDING)], {}),
        ]
    }

    @classmethod
    def ensure_indexes(cls, db):
        cls.backfill_geo(db)
        super().ensure_indexes(db)
        for name in OBSOLETE_INDEXES:
            if name in db.venues.index_information():
                try:
                    db.venues.drop_index(name)
                except OperationFailure as exc:
                    if exc.code != INDEX_NOT_FOUND:
                        raise

    @staticmethod
    def backfill_geo(db):
        """Give ``GEO_FIELD`` to the venues registered before it existed; the number changed.

        Idempotent: only documents without it are written (one ``update_many``; every write of
        the repository sets it, so it finds nothing once done)."""
        result = db.venues.update_many(
            {
                GEO_FIELD: {"$exists": False},
                "location.lat": {"$type": "number"},
                "location.lon": {"$type": "number"},
            },
            [
                {
                    "$set": {
                        GEO_FIELD: {
                            "type": "Point",
                            "coordinates": ["$location.lon", "$location.lat"],
                        }
                    }
                }
            ],
        )
        return result.modified_count

    @property
    def venues(self):
        return self.db.venues

    def insert_venue(self, venue):
        self.venues.insert_one({**venue, GEO_FIELD: geojson_point(venue["location"])})
        return self.get_venue(venue["id"])

    def get_venue(self, venue_id):
        return self.venues.find_one({"id": venue_id}, {"_id": 0, OUTBOX_FIELD: 0, GEO_FIELD: 0})

    def change_status(self, venue_id, version, location, new_status, entry, event):
        """Move the venue to ``new_status`` if it is still at ``version``; ``event`` goes to the
        outbox in the same atomic update. None if the venue changed meanwhile. (``location`` is
        the venue's, written again as GeoJSON, as every write does.)"""
        return update_and_get(
            self.venues,
            {"id": venue_id, "version": version},
            {
                "$set": {"status": new_status, GEO_FIELD: geojson_point(location)},
                "$push": {"history": entry, OUTBOX_FIELD: event},
                "$inc": {"version": 1},
            },
        )

    def set_services(self, venue_id, version, location, services, categories, event):
        """Write the venue's ``services`` (one added, or one approved or refused) and the
        ``categories`` it offers, if the venue is still at ``version`` (None otherwise), with
        its event in the same atomic update."""
        return update_and_get(
            self.venues,
            {"id": venue_id, "version": version},
            {
                "$set": {
                    "services": services,
                    "categories": categories,
                    GEO_FIELD: geojson_point(location),
                },
                "$push": {OUTBOX_FIELD: event},
                "$inc": {"version": 1},
            },
        )

    def set_opening_hours(self, venue_id, opening_hours):
        """Write the venue's opening information (None: none); the venue as it is then."""
        return update_and_get(
            self.venues, {"id": venue_id}, {"$set": {"opening_hours": opening_hours}}
        )

    def services_by_status(self, status, skip=0, limit=50):
        """``(services, total)``: one page of the services in ``status`` (any venue), oldest
        first (then by id), each with its venue's id, name and status, and how many in all.

        One aggregation: the venues holding such a service (index ``services.status``), one row
        per service, filtered again, counted and paged in the database."""
        pipeline = [
            {"$match": {"services.status": status}},
            {"$unwind": "$services"},
            {"$match": {"services.status": status}},
            {
                "$project": {
                    "_id": 0,
                    "venue_id": "$id",
                    "venue_name": "$name",
                    "venue_status": "$status",
                    "service": "$services",
                }
            },
            {"$sort": {"service.added_at": ASCENDING, "service.id": ASCENDING}},
            {
                "$facet": {
                    "total": [{"$count": "n"}],
                    "services": [{"$skip": skip}, {"$limit": limit}],
                }
            },
        ]
        result = next(self.venues.aggregate(pipeline), None) or {}
        counted = result.get("total") or [{"n": 0}]
        rows = [
            {
                **row["service"],
                "venue_id": row["venue_id"],
                "venue_name": row["venue_name"],
                "venue_status": row["venue_status"],
            }
            for row in result.get("services", [])
        ]
        return rows, counted[0]["n"]

    def venues_by_status(self, status, skip=0, limit=50):
        """``(venues, total)``: one page of the venues in ``status``, oldest first (then by id),
        with their history, and how many in all (index ``status_1_department_1``)."""
        query = {"status": status}
        projection = {"_id": 0, OUTBOX_FIELD: 0, GEO_FIELD: 0}
        cursor = self.venues.find(query, projection).sort(
            [("created_at", ASCENDING), ("id", ASCENDING)]
        )
        return list(cursor.skip(skip).limit(limit)), self.venues.count_documents(query)

    def find_accredited(self, department=None, venue_type=None, category=None):
        """Every accredited venue matching the filters, by id (the public map)."""
        query = accredited_filter(department, venue_type, category)
        return self.venues.find(query, HIDDEN).sort("id", ASCENDING)

    def search_accredited(self, **criteria):
        """``(venues, total)``: one page of the search ``criteria`` describe (arguments of
        :func:`search_pipeline`) and how many venues match in all."""
        result = next(self.venues.aggregate(search_pipeline(**criteria)), None) or {}
        counted = result.get("total") or [{"n": 0}]
        return result.get("venues", []), counted[0]["n"]

    def ping(self):
        self.db.command("ping")
        return True
