"""``aptic repair-text``: a data fix for text stored before inputs were checked.

Every input schema now refuses text holding a lone UTF-16 surrogate or a control character
(``shared.schemas.unwritable_text``), but what was stored before may still hold some. This walks
every document of every collection of the services' databases (``<MONGO_DB_PREFIX><service>``),
streaming in batches, and replaces each such character by U+FFFD in every string, at any depth,
with one ``update_one`` per changed document (``$set`` of its changed top-level fields).

Keys are not renamed (a rename is a change of schema, not of text): keys holding such characters
are reported, with where they are. A document's ``_id`` is never rewritten (reported too).

A lone surrogate cannot even be written by pymongo; a MongoDB may still hold one as bytes that are
not UTF-8 (another driver, an older version). Documents are read with the ``surrogateescape``
error handler, so that such bytes come back as lone surrogates (one per byte), are found, and are
replaced like the rest, instead of failing the read.

No nameko, no eventlet: this module uses pymongo alone (``shared.schemas`` imports nameko, through
``shared.errors``, so the pattern is repeated here; a unit test pins the two to the same text).
"""

import re
from dataclasses import dataclass, field
from datetime import UTC

import bson
import pymongo
from bson.codec_options import CodecOptions
from pymongo.errors import PyMongoError

from aptic.registry import SERVICES

# The same characters as shared.schemas._UNWRITABLE (tests/store/test_repair_text.py checks it).
UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
REPLACEMENT = "\ufffd"
DEFAULT_DB_PREFIX = "aptic_"  # shared.mongo.DEFAULT_DB_PREFIX
BATCH_SIZE = 500
READ_OPTIONS = CodecOptions(
    tz_aware=True, tzinfo=UTC, unicode_decode_error_handler="surrogateescape"
)
MAX_LISTED = 50  # keys and refusals printed at most (the counts are always complete)


def clean_text(text):
    """``text`` with each lone surrogate or control character (tab and newlines kept) replaced
    by U+FFFD."""
    return UNWRITABLE.sub(REPLACEMENT, text)


def clean_value(value, path="", bad_keys=None):
    """``(cleaned, changed)`` for a JSON/BSON-like value: every string cleaned, at any depth.
    Keys are kept as they are; those holding unwritable characters are appended to
    ``bad_keys`` as dotted paths (with the key's ``repr``)."""
    if isinstance(value, str):
        cleaned = clean_text(value)
        return cleaned, cleaned != value
    if isinstance(value, dict):
        out, changed = {}, False
        for key, inner in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and UNWRITABLE.search(key) and bad_keys is not None:
                bad_keys.append(f"{path}.{key!r}" if path else repr(key))
            out[key], inner_changed = clean_value(inner, where, bad_keys)
            changed = changed or inner_changed
        return (out if changed else value), changed
    if isinstance(value, list | tuple):
        out, changed = [], False
        for index, inner in enumerate(value):
            cleaned, inner_changed = clean_value(inner, f"{path}.{index}", bad_keys)
            out.append(cleaned)
            changed = changed or inner_changed
        return (out if changed else value), changed
    return value, False


def document_changes(document, bad_keys=None):
    """The ``$set`` that repairs ``document``: ``{top-level field: cleaned value}`` for each field
    whose text changed (empty if none). ``_id`` is never part of it (reported if unwritable)."""
    changes = {}
    for key, value in document.items():
        if key == "_id":
            _, changed = clean_value(value)
            if changed and bad_keys is not None:
                bad_keys.append(f"_id {value!r} (never rewritten)")
            continue
        cleaned, changed = clean_value(value, key, bad_keys)
        if isinstance(key, str) and UNWRITABLE.search(key) and bad_keys is not None:
            bad_keys.append(repr(key))
        if changed:
            changes[key] = cleaned
    return changes


def _encodable(value):
    try:
        bson.encode({"v": value})
    except (UnicodeEncodeError, bson.errors.InvalidDocument, bson.errors.InvalidStringData):
        return False
    return True


@dataclass
class CollectionReport:
    database: str
    collection: str
    scanned: int = 0
    changed: int = 0
    bad_keys: list = field(default_factory=list)
    not_rewritten: list = field(default_factory=list)

    @property
    def name(self):
        return f"{self.database}.{self.collection}"


def repair_collection(collection, dry_run=False, batch_size=BATCH_SIZE):
    """Walk one collection (a cursor in batches); write the repairs unless ``dry_run``."""
    report = CollectionReport(collection.database.name, collection.name)
    for document in collection.find({}, batch_size=batch_size):
        report.scanned += 1
        bad_keys = []
        changes = document_changes(document, bad_keys)
        report.bad_keys += [f"_id={document.get('_id')!r}: {where}" for where in bad_keys]
        if not changes:
            continue
        unsafe = [
            key for key in changes if not isinstance(key, str) or "." in key or key[:1] == "$"
        ]
        if unsafe:  # $set would read a dotted name as a path: such a field is left as it is
            report.not_rewritten.append(f"_id={document['_id']!r}: fields {unsafe} (dotted names)")
            continue
        if not _encodable(changes):  # a key inside still holds what BSON cannot carry
            report.not_rewritten.append(f"_id={document['_id']!r}: a key cannot be written back")
            continue
        report.changed += 1
        if dry_run:
            continue
        # written only if those fields are still as read (compared where they can be sent)
        expected = {key: document[key] for key in changes if _encodable(document[key])}
        done = collection.update_one({"_id": document["_id"], **expected}, {"$set": changes})
        if done.matched_count == 0:
            report.changed -= 1
            report.not_rewritten.append(f"_id={document['_id']!r}: changed meanwhile, run again")
    return report


def database_names(prefix):
    return [f"{prefix or DEFAULT_DB_PREFIX}{service}" for service in SERVICES]


def repair(uri, prefix=None, dry_run=False, batch_size=BATCH_SIZE):
    """Repair every collection of every service's database: a list of ``CollectionReport``."""
    reports = []
    with pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        existing = set(client.list_database_names())
        for name in database_names(prefix):
            if name not in existing:
                continue
            db = client.get_database(name, codec_options=READ_OPTIONS)
            for info in db.list_collections():
                if info.get("type", "collection") != "collection":
                    continue  # views hold nothing of their own
                if info["name"].startswith("system."):
                    continue
                reports.append(repair_collection(db[info["name"]], dry_run, batch_size))
    return reports


def summary_lines(reports, dry_run=False):
    """What an operator reads: one line per collection, the totals, then the keys reported."""
    verb = "to change" if dry_run else "changed"
    lines = [
        f"{report.name}: {report.scanned} documents scanned, {report.changed} {verb}"
        for report in reports
    ]
    databases = len({report.database for report in reports})
    scanned = sum(report.scanned for report in reports)
    changed = sum(report.changed for report in reports)
    lines.append(
        f"{databases} databases, {len(reports)} collections, {scanned} documents scanned; "
        + (
            f"{changed} would change (dry run: nothing written)"
            if dry_run
            else f"{changed} changed"
        )
    )
    bad_keys = [f"{r.name} {where}" for r in reports for where in r.bad_keys]
    if bad_keys:
        lines.append(f"keys holding unwritable characters (not renamed): {len(bad_keys)}")
        lines += [f"  {where}" for where in bad_keys[:MAX_LISTED]]
    refused = [f"{r.name} {what}" for r in reports for what in r.not_rewritten]
    if refused:
        lines.append(f"documents not rewritten: {len(refused)}")
        lines += [f"  {what}" for what in refused[:MAX_LISTED]]
    return lines


def run(uri, prefix=None, dry_run=False, echo=print):
    """The command: repair (or only count, with ``dry_run``), print the summary, return reports."""
    try:
        reports = repair(uri, prefix, dry_run)
    except PyMongoError as exc:
        raise RuntimeError(f"the storage server at {uri.split('@')[-1]} failed: {exc}") from None
    for line in summary_lines(reports, dry_run):
        echo(line)
    return reports
