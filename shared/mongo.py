"""MongoDB access: one client per process and URI, one repository per service.

``MONGO_URI=mongomock://`` selects the in-process engine (mongomock): every service of the process
shares one in-memory server, so that ``make run`` and the tests need no MongoDB. A ``mongodb://``
URI selects pymongo. Both are driven through the same pymongo calls; use only what both support:
single-document atomic updates, unique indexes, no transactions, no geo operators.
"""

import os
import threading

import pymongo
from nameko.extensions import DependencyProvider

MONGO_URI_KEY = "MONGO_URI"
MONGO_DB_PREFIX_KEY = "MONGO_DB_PREFIX"
DEFAULT_MONGO_URI = "mongomock://"
DEFAULT_DB_PREFIX = "aptic_"

_clients = {}
_clients_lock = threading.Lock()


def get_client(uri=None):
    """The process-wide client for ``uri`` (made once, then shared)."""
    uri = uri or os.environ.get(MONGO_URI_KEY) or DEFAULT_MONGO_URI
    with _clients_lock:
        client = _clients.get(uri)
        if client is None:
            if uri.startswith("mongomock://"):
                import mongomock

                client = mongomock.MongoClient(tz_aware=False)
            else:
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


def update_and_get(collection, query, update, upsert=False):
    """Atomically apply ``update`` to the one document matching ``query``; the document after
    the update (without ``_id``), or None if none matched.

    (No ``projection`` is passed: mongomock then re-reads the document by the query, which a
    conditional update has just made false, and answers None.)
    """
    from pymongo import ReturnDocument

    doc = collection.find_one_and_update(
        query, update, upsert=upsert, return_document=ReturnDocument.AFTER
    )
    if doc is not None:
        doc.pop("_id", None)
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
