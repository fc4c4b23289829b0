"""No Docker engine runs here: check the compose file and the Dockerfile by reading them."""

import re
from pathlib import Path

import yaml

from aptic.registry import SERVICES
from shared.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_service_has_a_container_running_it():
    services = compose()["services"]
    for name in SERVICES:
        assert services[name]["command"] == [name]
        assert services[name]["image"] == "aptic-platform:latest"
        assert services[name]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
        env = services[name]["environment"]
        assert env["MONGO_URI"].startswith("mongodb://") and "rabbitmq:5672" in env["AMQP_URI"]
    assert {"rabbitmq", "mongodb"} <= set(services)


def test_redemption_can_be_scaled():
    redemption = compose()["services"]["redemption"]
    assert "container_name" not in redemption and "ports" not in redemption


def test_secrets_go_only_where_they_are_needed():
    services = compose()["services"]
    holders = [
        name for name, svc in services.items() if "OPERATOR_SECRET" in svc.get("environment", {})
    ]
    assert holders == ["issuance"]
    assert "OPERATOR_SECRET" not in (ROOT / "services/redemption/config.yml").read_text()


def test_dockerfile_copies_what_exists_and_entrypoint_configs_load():
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    for line in re.findall(r"^COPY (?:--\S+ )?(.+)$", dockerfile, re.M):
        *sources, _ = line.split()
        for source in sources:
            assert (ROOT / source).exists(), source
    assert "ENTRYPOINT" in dockerfile
    environ = {"OPERATOR_SECRET": "s" * 20, "CODE_DIGEST_KEY": "k" * 20}
    for name in SERVICES:
        config = load_config(ROOT / f"services/{name}/config.yml", environ)
        assert config["AMQP_URI"] and config["MONGO_URI"]
