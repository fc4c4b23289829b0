"""Documents numbered in one continuous sequence per year (invoices, statements, credit notes):
``INV-2026-000123``. A document once numbered keeps its number; two never share one."""

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError


def number_once(collection, key, sequence, make):
    """The document of ``key`` (a filter naming one document, e.g. ``{"order_id": ...}``): the
    one already numbered, or a new one numbered next in ``sequence`` (a filter such as
    ``{"year": 2026}`` or ``{"kind": ..., "year": ...}``), made by ``make(number)``.

    A unique index on the sequence's fields and ``number`` forbids a number twice, one on the key
    two numbers for one document; a lost race tries the next number, so the sequence has no gap.
    The highest number is read through that index: sorted on the sequence's fields, then
    ``number`` descending."""
    while True:
        found = collection.find_one(key, {"_id": 0})
        if found is not None:
            return found
        last = collection.find_one(
            sequence,
            {"_id": 0, "number": 1},
            sort=[*((field, ASCENDING) for field in sequence), ("number", DESCENDING)],
        )
        document = make((last["number"] if last else 0) + 1)
        try:
            collection.insert_one(document)
        except DuplicateKeyError:
            continue
        document.pop("_id", None)
        return document
