"""``aptic repair-text``: text stored before inputs were checked (lone surrogates, control
characters) is replaced by U+FFFD in every service's database; keys are reported, not renamed;
``--dry-run`` writes nothing; a second run finds nothing (issue 16, "a data fix")."""

import json
import subprocess
import sys
from pathlib import Path

import bson
import pytest
from bson.raw_bson import RawBSONDocument
from click.testing import CliRunner
from pymongo.errors import OperationFailure

import aptic.cli
from aptic import repair
from shared.mongo import database_name, get_client
from shared.schemas import _UNWRITABLE, unwritable_text

ROOT = Path(__file__).resolve().parents[2]
R = "\ufffd"


def test_the_same_characters_as_the_input_schemas():
    assert repair.UNWRITABLE.pattern == _UNWRITABLE.pattern
    for code in range(0x10000):
        text = f"a{chr(code)}b"
        assert (repair.clean_text(text) != text) == bool(unwritable_text(text)), hex(code)


def test_every_string_at_any_depth_is_cleaned_and_keys_are_reported():
    document = {
        "_id": "ven_1",
        "name": "Atelier \ud800 x",
        "ok": "Mérignac\tcentre\n\u202e\u200d",  # tab, newline, bidi and joiners are text
        "services": [{"title": "NUL\x00", "tags": ["\x1b[31mrouge", "fin\udfff"]}, 3],
        "nested": {"deep": {"deeper": ["\x85"]}, "k\x1by": "v"},
        "n": 42,
    }
    bad_keys = []
    changes = repair.document_changes(document, bad_keys)
    assert changes == {
        "name": f"Atelier {R} x",
        "services": [{"title": f"NUL{R}", "tags": [f"{R}[31mrouge", f"fin{R}"]}, 3],
        "nested": {"deep": {"deeper": [R]}, "k\x1by": "v"},
    }
    assert bad_keys == ["nested.'k\\x1by'"]
    assert repair.document_changes({"_id": "a", "name": "clean"}) == {}
    bad_keys = []
    assert repair.document_changes({"_id": "x\x00", "a\x01": "b"}, bad_keys) == {}
    assert bad_keys == ["_id 'x\\x00' (never rewritten)", "'a\\x01'"]


def test_bytes_that_are_not_utf8_come_back_as_surrogates_and_are_repaired():
    """What a MongoDB may hold from another driver: a surrogate (CESU-8) or a stray byte."""
    raw = bson.encode({"_id": 1, "title": "abPLACEHOLDER"}).replace(
        b"PLACEHOLDER", b"\xed\xa0\x80\xffAAAAAAA"
    )
    with pytest.raises(bson.errors.InvalidBSON):
        bson.decode(raw)  # what every service's client does: the read fails
    document = bson.decode(raw, codec_options=repair.READ_OPTIONS)
    changes = repair.document_changes(document)
    assert changes == {"title": f"ab{R * 4}AAAAAAA"}
    bson.encode(changes)  # writable


@pytest.fixture
def stored(mongo_config):
    """Documents in three services' databases, some with text no input would take now."""
    client = get_client(mongo_config["MONGO_URI"])
    db = {name: client[database_name(mongo_config, name)] for name in ("catalog", "ordering")}
    db["catalog"].venues.insert_many(
        [
            {
                "_id": "ven_1",
                "name": "EPN\x00Pessac",
                "services": [{"title": "Atelier \x1b[31m", "price": 1}, {"title": "bien"}],
                "history": [{"by": {"label": "op\x7f"}, "reason": "ok"}],
                "location": {"lat": 44.8, "lon": -0.6},
            },
            {"_id": "ven_2", "name": "EPN Mérignac", "note": "tab\tnewline\n\u202e"},
            {"_id": "ven_3", "name": "clean", "meta": {"k\x1by": "\x85"}},
        ]
    )
    db["ordering"].sponsors.insert_one({"_id": "spo_1", "partners": ["CCAS\x00", ["\x01"]]})
    db["ordering"].orders.insert_one({"_id": "ord_1", "reason": "budget"})
    client[database_name(mongo_config, "gateway")].api_keys.insert_one(
        {"_id": "k", "label": "desk\x0b"}
    )
    client[f"{mongo_config['MONGO_DB_PREFIX']}elsewhere"].things.insert_one({"t": "\x00"})
    return client, mongo_config


def invoke(config, *args):
    env = {"MONGO_URI": config["MONGO_URI"], "MONGO_DB_PREFIX": config["MONGO_DB_PREFIX"]}
    return CliRunner().invoke(aptic.cli.main, ["repair-text", *args], env=env)


def snapshot(client, config):
    return {
        name: {
            collection: list(client[name][collection].find({}).sort("_id", 1))
            for collection in client[name].list_collection_names()
        }
        for name in client.list_database_names()
        if name.startswith(config["MONGO_DB_PREFIX"])
    }


def test_dry_run_counts_and_writes_nothing(stored):
    client, config = stored
    before = snapshot(client, config)
    done = invoke(config, "--dry-run")
    assert done.exit_code == 0, done.output
    prefix = config["MONGO_DB_PREFIX"]
    assert f"{prefix}catalog.venues: 3 documents scanned, 2 to change" in done.output
    assert f"{prefix}ordering.sponsors: 1 documents scanned, 1 to change" in done.output
    assert f"{prefix}ordering.orders: 1 documents scanned, 0 to change" in done.output
    assert f"{prefix}gateway.api_keys: 1 documents scanned, 1 to change" in done.output
    assert "3 databases, 4 collections, 6 documents scanned; 4 would change" in done.output
    assert "dry run: nothing written" in done.output
    assert "keys holding unwritable characters (not renamed): 1" in done.output
    assert "_id='ven_3': meta.'k\\x1by'" in done.output
    assert "elsewhere" not in done.output  # only the services' databases
    assert snapshot(client, config) == before


def test_repair_then_a_second_run_changes_nothing(stored):
    client, config = stored
    done = invoke(config)
    assert done.exit_code == 0, done.output
    assert "3 databases, 4 collections, 6 documents scanned; 4 changed" in done.output

    catalog = client[database_name(config, "catalog")]
    venue = catalog.venues.find_one({"_id": "ven_1"})
    assert venue["name"] == f"EPN{R}Pessac"
    assert venue["services"] == [{"title": f"Atelier {R}[31m", "price": 1}, {"title": "bien"}]
    assert venue["history"] == [{"by": {"label": f"op{R}"}, "reason": "ok"}]
    assert venue["location"] == {"lat": 44.8, "lon": -0.6}
    assert catalog.venues.find_one({"_id": "ven_2"})["note"] == "tab\tnewline\n\u202e"
    assert catalog.venues.find_one({"_id": "ven_3"})["meta"] == {"k\x1by": R}  # key kept
    ordering = client[database_name(config, "ordering")]
    assert ordering.sponsors.find_one({"_id": "spo_1"})["partners"] == [f"CCAS{R}", [R]]
    gateway = client[database_name(config, "gateway")]
    assert gateway.api_keys.find_one({"_id": "k"})["label"] == f"desk{R}"
    elsewhere = client[f"{config['MONGO_DB_PREFIX']}elsewhere"].things.find_one()
    assert elsewhere["t"] == "\x00"  # not a service's database: untouched

    again = invoke(config)
    assert again.exit_code == 0, again.output
    assert "6 documents scanned; 0 changed" in again.output
    assert "keys holding unwritable characters (not renamed): 1" in again.output


def test_text_that_is_not_utf8_on_the_server(mongo_config):
    """A MongoDB may hold such bytes (it does not check UTF-8): they are repaired. The embedded
    server refuses them at the door: there, nothing of the kind can be stored at all."""
    collection = get_client(mongo_config["MONGO_URI"])[database_name(mongo_config, "catalog")]
    raw = bson.encode({"_id": "ven_9", "name": "abPLACEHOLDER", "tags": ["xPLACEHOLDER"]})
    raw = raw.replace(b"PLACEHOLDER", b"\xed\xa0\x80\xffAAAAAAA")
    try:
        collection.venues.insert_one(RawBSONDocument(raw))
    except OperationFailure as exc:
        assert "utf-8" in str(exc).lower(), exc  # SecantusDB: refused, nothing stored
        assert collection.venues.count_documents({}) == 0
        return
    done = invoke(mongo_config)
    assert done.exit_code == 0, done.output
    assert "1 changed" in done.output
    venue = collection.venues.find_one({"_id": "ven_9"})  # readable again, strictly
    assert venue == {"_id": "ven_9", "name": f"ab{R * 4}AAAAAAA", "tags": [f"x{R * 4}AAAAAAA"]}


def test_mongo_uri_is_required():
    done = CliRunner().invoke(aptic.cli.main, ["repair-text"], env={"MONGO_URI": ""})
    assert done.exit_code == 2 and "MONGO_URI" in done.output


def test_the_command_imports_neither_nameko_services_nor_eventlet(stored):
    """Of nameko, only its config loader (shared/config.py reads ``${VAR:default}`` with it):
    no container, no messaging, no eventlet."""
    _, config = stored
    code = (
        "import json, sys\n"
        "from click.testing import CliRunner\n"
        "import aptic.cli\n"
        "done = CliRunner().invoke(aptic.cli.main, ['repair-text', '--dry-run'])\n"
        "print(json.dumps([done.exit_code, done.output, sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('nameko', 'eventlet'))]))"
    )
    env = {"PATH": "/usr/bin:/bin", **config}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    exit_code, output, modules = json.loads(done.stdout.splitlines()[-1])
    assert exit_code == 0 and "4 would change" in output, output
    loader = {"nameko.cli", "nameko.cli.main", "nameko.cli.actions", "nameko.cli.commands"}
    assert set(modules) <= {"nameko", "nameko.exceptions", *loader}, modules
