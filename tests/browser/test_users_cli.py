"""``aptic users create``: the first operator account from the command line (the pika client, an
RPC to the web service), and a venue's account bound to a venue that exists."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shared.mongo import get_database
from tests.browser.support import PASSWORD, accredited_venue

pytestmark = pytest.mark.browser

APTIC = str(Path(sys.executable).parent / "aptic")


def aptic(config_path, *args):
    env = {"PATH": "/usr/bin:/bin", "APTIC_USER_PASSWORD": PASSWORD}
    return subprocess.run(
        [APTIC, "--config", str(config_path), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_users_create_from_the_command_line(rpc, stack_config, tmp_path):
    venue, _ = accredited_venue(rpc, stack_config, "bordeaux")
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump({"AMQP_URI": stack_config["AMQP_URI"], "RPC_TIMEOUT": 10}))

    made = aptic(config, "users", "create", "--email", "Me@Example.org", "--role", "operator")
    assert made.returncode == 0, made.stderr
    assert "me@example.org, operator" in made.stdout
    venue_staff = aptic(
        config,
        "users",
        "create",
        "--email",
        "desk@epn.example",
        "--role",
        "venue",
        "--subject",
        venue["id"],
    )
    assert venue_staff.returncode == 0, venue_staff.stderr
    assert f"(bound to {venue['id']})" in venue_staff.stdout
    again = aptic(config, "users", "create", "--email", "me@example.org", "--role", "operator")
    assert again.returncode != 0 and "account_exists" in again.stderr
    nowhere = aptic(
        config,
        "users",
        "create",
        "--email",
        "x@epn.example",
        "--role",
        "venue",
        "--subject",
        "ven_00000000000000000000",
    )
    assert nowhere.returncode != 0 and "venue_not_found" in nowhere.stderr
    listed = aptic(config, "users", "list")
    assert "desk@epn.example" in listed.stdout and "me@example.org" in listed.stdout

    users = get_database(stack_config, "web").users
    assert users.count_documents({}) == 2
    assert users.find_one({"email": "me@example.org"})["password_hash"].startswith("$argon2id$")
