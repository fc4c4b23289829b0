"""Configuration, errors across the wire, storage selection, logs."""

import json
import logging
from dataclasses import dataclass

import pytest
import yaml
from nameko.exceptions import deserialize, serialize

from services.issuance.settings import Settings as IssuanceSettings
from shared.config import load_config_text
from shared.contracts.errors_catalog import VenueNotFound
from shared.errors import Refused
from shared.logs import JsonFormatter
from shared.mongo import NoDatabase, document_key, get_client, update_and_get
from shared.settings import ConfigSettings


def test_config_placeholders_typed_and_defaulted(monkeypatch):
    monkeypatch.setenv("NAME", "aptic")
    monkeypatch.setenv("HOST", "rabbit")
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("FLAG", raising=False)
    monkeypatch.delenv("UNSET_NAME", raising=False)
    text = (
        "port: ${PORT:8000}\nuri: amqp://${HOST:localhost}:5672/\nflag: ${FLAG:true}\n"
        "name: ${NAME}\nnothing: ${UNSET_NAME}\nempty: ${UNSET_NAME:}\n"
        "siret: ${UNSET_NAME:73282932000074}\nplain: text\n"
    )
    assert load_config_text(text) == {
        "port": 8000,
        "uri": "amqp://rabbit:5672/",
        "flag": True,
        "name": "aptic",
        "nothing": None,
        "empty": None,
        "siret": 73282932000074,
        "plain": "text",
    }
    # the loader is a class of its own: YAML's safe loader is left as it was
    assert yaml.safe_load("name: ${NAME}") == {"name": "${NAME}"}


def test_settings_from_config_cast_defaulted_and_checked():
    @dataclass(frozen=True)
    class Example(ConfigSettings):
        name: str = "APTIC"
        days: int = 30

    assert Example.from_config({"NAME": 42, "DAYS": "45"}) == Example(name="42", days=45)
    assert Example.from_config({"NAME": None, "DAYS": ""}) == Example()
    with pytest.raises(ValueError, match="OPERATOR_SECRET must be set"):
        IssuanceSettings.from_config({"CODE_DIGEST_KEY": "k" * 16})
    settings = IssuanceSettings.from_config(
        {"OPERATOR_SECRET": 1234567890123456, "CODE_DIGEST_KEY": "k" * 16, "PRINT_WORKERS": "2"}
    )
    assert settings.operator_secret == "1234567890123456" and settings.print_workers == 2
    assert "1234567890123456" not in repr(settings)


def test_expected_errors_cross_rpc_as_themselves():
    error = VenueNotFound(details={"venue_id": "ven_x", "count": 3})
    back = deserialize(json.loads(json.dumps(serialize(error))))
    assert type(back) is VenueNotFound
    assert back.code == "venue_not_found" and back.details == {"venue_id": "ven_x", "count": 3}
    assert back.message == "No venue with this id."


def test_error_code_can_be_specialised_per_raise():
    error = Refused("rule broken", code="rule_territory")
    back = deserialize(serialize(error))
    assert back.to_dict() == {"code": "rule_territory", "message": "rule broken", "details": {}}


def test_one_client_per_uri_and_none_without_a_uri(mongo_uri, monkeypatch):
    assert get_client(mongo_uri) is get_client(mongo_uri)
    monkeypatch.delenv("MONGO_URI", raising=False)
    with pytest.raises(NoDatabase):
        get_client(None)


def test_document_key_keeps_what_still_finds_the_document():
    assert document_key({"id": "x", "version": 3}, {"$set": {"version": 4}}) == {"id": "x"}
    assert document_key({"name": "n", "$or": [{"a": 1}]}, {"$set": {"a": 2}}) == {"name": "n"}
    assert document_key({"id": "x", "n": {"$lt": 3}}, {"$inc": {"m": 1}}) == {"id": "x"}
    assert document_key({"year": 2026}, {"$setOnInsert": {"year": 2026}}) == {"year": 2026}


def test_update_and_get_is_conditional_and_answers_the_document_after(mongo_config):
    things = get_client(mongo_config["MONGO_URI"])[mongo_config["MONGO_DB_PREFIX"] + "k"].things
    things.create_index("id", unique=True)
    created = update_and_get(things, {"id": "a"}, {"$setOnInsert": {"version": 1}}, upsert=True)
    assert created == {"id": "a", "version": 1}
    moved = update_and_get(things, {"id": "a", "version": 1}, {"$set": {"version": 2}})
    assert moved == {"id": "a", "version": 2}
    assert update_and_get(things, {"id": "a", "version": 1}, {"$set": {"version": 3}}) is None
    assert things.find_one({"id": "a"})["version"] == 2


def test_json_logs_carry_service_and_correlation():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    record.service, record.correlation_id = "catalog", "abc123"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "hello world"
    assert (entry["service"], entry["correlation_id"], entry["level"]) == (
        "catalog",
        "abc123",
        "INFO",
    )
