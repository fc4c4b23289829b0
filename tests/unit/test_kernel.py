"""Configuration, errors across the wire, storage selection, logs."""

import json
import logging

import pytest
from nameko.exceptions import deserialize, serialize

from services.catalog.exceptions import VenueNotFound
from shared.config import MissingVariable, load_config_text
from shared.errors import Refused
from shared.logs import JsonFormatter
from shared.mongo import get_client


def test_config_placeholders_typed_and_defaulted():
    text = "port: ${PORT:8000}\nuri: amqp://${HOST:localhost}:5672/\nflag: ${FLAG:true}\nname: ${NAME}\n"
    config = load_config_text(text, {"NAME": "aptic", "HOST": "rabbit"})
    assert config == {"port": 8000, "uri": "amqp://rabbit:5672/", "flag": True, "name": "aptic"}
    with pytest.raises(MissingVariable):
        load_config_text("name: ${NAME}\n", {})


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


def test_mongomock_uri_gives_one_shared_in_process_engine():
    a, b = get_client("mongomock://"), get_client("mongomock://")
    assert a is b
    a.kernel_test.things.insert_one({"x": 1})
    assert b.kernel_test.things.count_documents({}) == 1
    a.drop_database("kernel_test")


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
