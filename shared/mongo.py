"""MongoDB access: one pymongo client per process and URI, one repository per service.

``MONGO_URI`` names a MongoDB-wire server: MongoDB 7/8 (a replica set) in production, or the
embedded SecantusDB server that ``aptic run`` and the tests start (see ``aptic/dbserver.py``).
The code is the same for both; it keeps to what both serve from an index. In particular no hot
path uses ``findAndModify`` (``find_one_and_update``), which SecantusDB answers by scanning the
collection: :func:`update_and_get` is a conditional ``update_one`` and an indexed read.

:meth:`Repository.in_transaction` runs a function in one multi-document transaction (both servers
are replica sets); inside it, a write must never fail on the normal path (see there).
"""

import copy
import os
import threading
from datetime import UTC

import pymongo
from bson.codec_options import CodecOptions
from nameko.extensions import DependencyProvider
from pymongo.errors import OperationFailure, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.read_preferences import ReadPreference
from pymongo.write_concern import WriteConcern

AWARE_DATES = CodecOptions(tz_aware=True, tzinfo=UTC)

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
            # dates read back aware, in UTC: the platform's one convention (shared.times)
            client = pymongo.MongoClient(
                uri, tz_aware=True, tzinfo=UTC, serverSelectionTimeoutMS=5000
            )
            _clients[uri] = client
        return client


def database_name(config, service_name):
    prefix = config.get(MONGO_DB_PREFIX_KEY) or os.environ.get(MONGO_DB_PREFIX_KEY)
    return f"{prefix or DEFAULT_DB_PREFIX}{service_name}"


def get_database(config, service_name, tz_aware=True):
    """The service's database; dates read back aware, in UTC (``shared.times``), as from every
    client ``get_client`` makes (``tz_aware=True`` stays accepted, for the callers that say it)."""
    db = get_client(config.get(MONGO_URI_KEY))[database_name(config, service_name)]
    if tz_aware:
        db = db.with_options(codec_options=AWARE_DATES)
    return db


class Repository:
    """Base of every service's store: intention-revealing methods over one database.

    Subclasses list their indexes in ``INDEXES``: ``{collection: [(keys, options), ...]}``;
    every query a store makes is served by one of them.
    """

    INDEXES: dict = {}
    TZ_AWARE = (
        True  # dates read back aware in UTC (shared.times): every store, since they all moved
    )

    def __init__(self, db):
        self.db = db

    @classmethod
    def ensure_indexes(cls, db):
        """Create the ``INDEXES`` (those that exist are left as they are): one ``createIndexes``
        command per collection, not one per index (each command is a round trip; the embedded
        server's tests make a database, and its indexes, per test)."""
        for collection, indexes in cls.INDEXES.items():
            if indexes:
                db[collection].create_indexes(
                    [pymongo.IndexModel(keys, **options) for keys, options in indexes]
                )

    def in_transaction(self, fn):
        """``fn(repo)`` in one transaction; what ``fn`` returns.

        ``repo`` is a copy of this repository whose every collection call carries the
        transaction's session (:class:`SessionDatabase`). Committed when ``fn`` returns (majority
        read and write concerns), aborted if it raises. ``fn`` may run more than once: pymongo's
        ``with_transaction`` runs it again after a transient error (a write conflict with a
        concurrent transaction on the same document) and retries an unknown commit result, for
        up to 120 s. Called inside a transaction, ``fn`` simply runs in it.

        Inside a transaction ANY failed write (a ``DuplicateKeyError`` too) aborts the whole
        transaction on the server: "insert, and on a duplicate key update" cannot run in one;
        write upserts (``$setOnInsert``) and conditional updates, which do not fail. A failed
        write that ``fn`` catches and goes on from raises :class:`TransactionAborted` at once
        (instead of retrying a doomed transaction for 120 s).
        """
        if isinstance(self.db, SessionDatabase):
            return fn(self)
        with self.db.client.start_session() as session:
            return session.with_transaction(lambda s: self._run_in(s, fn), **TRANSACTION_OPTIONS)

    def in_session(self, session):
        """A copy of this repository whose collection calls carry ``session``."""
        repo = copy.copy(self)
        repo.db = SessionDatabase(self.db, session)
        return repo

    def _run_in(self, session, fn):
        repo = self.in_session(session)
        try:
            result = fn(repo)
        except PyMongoError as exc:
            failed = repo.db.failure
            if failed is not None and failed is not exc:
                raise TransactionAborted(failed) from exc
            raise
        if repo.db.failure is not None:
            raise TransactionAborted(repo.db.failure)
        return result


TRANSACTION_OPTIONS = {
    "read_concern": ReadConcern("majority"),
    "write_concern": WriteConcern("majority"),
    "read_preference": ReadPreference.PRIMARY,
}


class TransactionAborted(RuntimeError):
    """A call failed inside a transaction and the code went on: the server aborted it."""

    def __init__(self, error):
        super().__init__(
            f"{error!r} aborted the transaction and was caught: inside a transaction write "
            "upserts or conditional updates, which do not fail"
        )
        self.error = error


class SessionDatabase:
    """A database whose collections (``db.name``, ``db["name"]``) run every call in ``session``.

    Only the calls of :attr:`SessionCollection.METHODS` exist: anything else (an index, an
    estimated count, which a transaction refuses) raises ``AttributeError`` rather than running
    outside the transaction.
    """

    def __init__(self, database, session):
        self.database = database
        self.session = session
        self.failure = None  # the first non-transient error of a call (aborts the transaction)

    @property
    def client(self):
        return self.database.client

    @property
    def name(self):
        return self.database.name

    def __getitem__(self, name):
        return SessionCollection(self, self.database[name])

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]


class SessionCollection:
    """One collection of a :class:`SessionDatabase`: each method of ``METHODS`` is the
    collection's, with ``session=`` added."""

    METHODS = (
        "find",
        "find_one",
        "insert_one",
        "insert_many",
        "update_one",
        "update_many",
        "replace_one",
        "delete_one",
        "delete_many",
        "bulk_write",
        "aggregate",
        "count_documents",
        "distinct",
    )

    def __init__(self, database, collection):
        self._database = database
        self.collection = collection

    @property
    def name(self):
        return self.collection.name


def _in_session(method):
    def call(self, *args, **kwargs):
        try:
            return getattr(self.collection, method)(*args, session=self._database.session, **kwargs)
        except OperationFailure as exc:
            if not exc.has_error_label("TransientTransactionError"):
                self._database.failure = self._database.failure or exc
            raise

    call.__name__ = call.__qualname__ = method
    call.__doc__ = f"``Collection.{method}`` in the transaction's session."
    return call


for _method in SessionCollection.METHODS:
    setattr(SessionCollection, _method, _in_session(_method))


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
        self.db = get_database(
            self.container.config, self.container.service_name, self.repository_cls.TZ_AWARE
        )
        self.repository_cls.ensure_indexes(self.db)

    def get_dependency(self, worker_ctx):
        return self.repository_cls(self.db)


ASCENDING = pymongo.ASCENDING
DESCENDING = pymongo.DESCENDING
