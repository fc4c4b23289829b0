"""MongoDB access: one pymongo client per process and URI, one repository per service.

``MONGO_URI`` names a MongoDB-wire server: MongoDB 7/8 (a replica set) in production, or the
embedded SecantusDB server that ``aptic run`` and the tests start (see ``aptic/dbserver.py``).
The code is the same for both; it keeps to what both serve from an index. In particular no hot
path uses ``findAndModify`` (``find_one_and_update``), which SecantusDB answers by scanning the
collection: :func:`update_and_get` is a conditional ``update_one`` and an indexed read.
"""

import os
import threading

import pymongo
from nameko.extensions import DependencyProvider

MONGO_URI_KEY = "MONGO_URI"
MONGO_DB_PREFIX_KEY = "MONGO_DB_PREFIX"
DEFAULT_DB_PREFIX = "aptic_"

_clients = {}
_clients_lock = threading.Lock()


class NoDatabase(RuntimeError):
    """``MONGO_URI`` is not set: nothing to connect to."""


def get_client(uri=None):
    """The process-wide client for ``uri`` (made once, then shared)."""
    uri = uri or os.environ.get(MONGO_URI_KEY)
    if not uri:
        raise NoDatabase(
            "MONGO_URI is not set: `aptic run` starts the embedded server, or name a MongoDB"
        )
    with _clients_lock:
        client = _clients.get(uri)
        if client is None:
            client = pymongo.MongoClient(uri, tz_aware=False, serverSelectionTimeoutMS=5000)
            _clients[uri] = client
        return client


def database_name(config, service_name):
    prefix = config.get(MONGO_DB_PREFIX_KEY) or os.environ.get(MONGO_DB_PREFIX_KEY)
    return f"{prefix or DEFAULT_DB_PREFIX}{service_name}"


def get_database(config, service_name):
    return get_client(config.get(MONGO_URI_KEY))[database_name(config, service_name)]


class Repository:
    """Base of every service's store: intention-revealing methods over one database.

    Subclasses list their indexes in ``INDEXES``: ``{collection: [(keys, options), ...]}``;
    every query a store makes is served by one of them.
    """

    INDEXES: dict = {}

    def __init__(self, db):
        self.db = db

    @classmethod
    def ensure_indexes(cls, db):
        for collection, indexes in cls.INDEXES.items():
            for keys, options in indexes:
                db[collection].create_index(keys, **options)


def _updated_fields(update):
    """The fields ``update`` changes in a document it matches (``$setOnInsert`` changes none)."""
    return {
        field
        for operator, fields in update.items()
        if operator.startswith("$") and operator != "$setOnInsert"
        for field in fields
    }


def document_key(query, update):
    """The part of ``query`` that still finds the document after ``update``: its plain equality
    fields that the update does not change (``{"id": x, "version": 3}`` with ``$set: version``
    gives ``{"id": x}``)."""
    changed = _updated_fields(update)
    return {
        field: value
        for field, value in query.items()
        if not field.startswith("$") and field not in changed and not isinstance(value, dict)
    }


def update_and_get(collection, query, update, upsert=False):
    """Apply ``update`` to the one document matching ``query`` (atomic, conditional); the
    document after the update (without ``_id``), or None if none matched.

    One ``update_one`` and one read, both on an index. The read finds the document by the part of
    the query the update does not change (:func:`document_key`); it may show a later change made
    meanwhile, never an earlier state.
    """
    result = collection.update_one(query, update, upsert=upsert)
    if result.upserted_id is not None:
        doc = collection.find_one({"_id": result.upserted_id}, {"_id": 0})
    elif result.matched_count:
        key = document_key(query, update)
        if not key:
            raise ValueError(f"no field of {query!r} finds the document after the update")
        doc = collection.find_one(key, {"_id": 0})
    else:
        doc = None
    return doc


class Store(DependencyProvider):
    """Injects a service's repository, on the database ``<prefix><service name>``.

    ``Store(CatalogRepository)``: the client is made in ``setup()``, indexes are declared there.
    """

    def __init__(self, repository_cls, **kwargs):
        self.repository_cls = repository_cls
        self.db = None
        super().__init__(**kwargs)

    def setup(self):
        self.db = get_database(self.container.config, self.container.service_name)
        self.repository_cls.ensure_indexes(self.db)

    def get_dependency(self, worker_ctx):
        return self.repository_cls(self.db)


ASCENDING = pymongo.ASCENDING
DESCENDING = pymongo.DESCENDING
