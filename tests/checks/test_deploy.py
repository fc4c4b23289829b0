"""No Docker engine runs here: check the compose file and the Dockerfile by reading them.

``docker compose config`` and ``hadolint`` only read files: their tests run where they are
installed and are skipped elsewhere.
"""

import ast
import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from packaging.requirements import Requirement

from aptic.registry import SERVICES
from shared.config import load_config

ROOT = Path(__file__).resolve().parents[2]
OWN_PACKAGES = ("shared", "services", "aptic")
# What `docker compose` needs set to read the file (the ${VAR:?} ones); test values only.
COMPOSE_ENV = {
    "MONGO_ROOT_PASSWORD": "test-mongo-password-0123456789",
    "OPERATOR_SECRET": "s" * 32,
    "CODE_DIGEST_KEY": "k" * 32,
}
# Imported by the code but not a direct dependency: {distribution: the runtime dependency that
# requires it}. Each entry is checked. Better still, make it a direct dependency.
TRANSITIVE_IMPORTS = {"fonttools": "weasyprint"}


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def dockerfile():
    return (ROOT / "deploy/Dockerfile").read_text()


def load_script(name):
    spec = importlib.util.spec_from_file_location(f"deploy_{name}", ROOT / "deploy" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- compose's variable interpolation, as `docker compose` does it ---------------------------------
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


class Unset(KeyError):
    """A ${VAR:?message} whose variable is not set."""


def interpolate(value, environ):
    if isinstance(value, dict):
        return {key: interpolate(item, environ) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, environ) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match):
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        op, arg = match["op"], match["arg"]
        present = name in environ and (environ[name] != "" or not (op or "").startswith(":"))
        if present:
            return environ[name]
        if op and op.endswith("?"):
            raise Unset(f"{name}: {arg}")
        return arg if op else ""

    return _VARIABLE.sub(replace, value)


def platform_services(services):
    return {name: svc for name, svc in services.items() if name in SERVICES}


# -- the compose file -------------------------------------------------------------------------------
def test_every_service_has_a_container_running_it():
    services = compose()["services"]
    for name in SERVICES:
        assert services[name]["command"] == [name]
        assert services[name]["image"] == "aptic-platform:latest"
        assert services[name]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
        assert services[name]["depends_on"]["mongodb"]["condition"] == "service_healthy"
        env = services[name]["environment"]
        assert env["MONGO_URI"].startswith("mongodb://") and "rabbitmq:5672" in env["AMQP_URI"]
        assert env["MONGO_DB_PREFIX"] and env["LOG_LEVEL"]
    assert {"rabbitmq", "mongodb"} <= set(services)
    assert set(services) == set(SERVICES) | {"rabbitmq", "mongodb"}


def test_every_container_has_a_healthcheck():
    services = compose()["services"]
    for name, svc in services.items():
        check = svc.get("healthcheck")
        assert check and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1, name
        assert check.get("timeout") and check.get("interval") and check.get("retries"), name
    assert services["rabbitmq"]["healthcheck"]["test"] == [
        "CMD",
        "rabbitmq-diagnostics",
        "-q",
        "ping",
    ]
    for name, svc in platform_services(services).items():
        # the script the image holds, asked about this very service
        assert svc["healthcheck"]["test"] == ["CMD", "python", "/app/deploy/healthcheck.py", name]
    assert "deploy/healthcheck.py" in dockerfile()


def test_every_dependency_waits_until_it_is_healthy():
    services = compose()["services"]
    for name, svc in services.items():
        depends_on = svc.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on as a list waits for nothing"
        for dependency, options in depends_on.items():
            assert dependency in services, (name, dependency)
            assert options == {"condition": "service_healthy"}, (name, dependency)
            assert services[dependency].get("healthcheck"), (name, dependency)
    # the API opens once every service consumes its queues
    assert set(services["gateway"]["depends_on"]) == set(services) - {"gateway"}


def test_mongodb_is_a_replica_set_with_authentication():
    mongodb = compose()["services"]["mongodb"]
    assert mongodb["image"].split(":")[0] == "mongo"
    assert mongodb["image"].split(":")[1].split(".")[0] in ("7", "8")
    command = mongodb["command"]
    assert command[0] == "mongod"
    assert command[command.index("--replSet") + 1] == "rs0"
    keyfile = command[command.index("--keyFile") + 1]
    # credentials from the environment: the password has no default
    env = mongodb["environment"]
    assert re.fullmatch(r"\$\{MONGO_ROOT_USER:-\w+\}", env["MONGO_INITDB_ROOT_USERNAME"])
    assert re.fullmatch(r"\$\{MONGO_ROOT_PASSWORD:\?[^}]+\}", env["MONGO_INITDB_ROOT_PASSWORD"])
    with pytest.raises(Unset):
        interpolate(env, {})
    # the keyFile is made before mongod starts: mode 400, owned by mongodb, kept in a volume
    script = interpolate(mongodb["entrypoint"], {})
    assert script[:2] == ["bash", "-c"]
    assert keyfile.startswith("/data/configdb/")
    assert "keyfile=" + keyfile in script[2]
    assert 'chmod 400 "$keyfile"' in script[2] and 'chown mongodb:mongodb "$keyfile"' in script[2]
    assert script[2].rstrip().endswith('exec docker-entrypoint.sh "$@"')
    assert len(script) == 4  # $0, so that "$@" is the whole command
    assert any(volume.endswith(":/data/configdb") for volume in mongodb["volumes"])
    assert any(volume.endswith(":/data/db") for volume in mongodb["volumes"])
    assert "ports" not in mongodb
    # the healthcheck initiates the replica set, its one member named as the services name it
    check = interpolate(mongodb["healthcheck"]["test"], {})
    assert check[0] == "CMD-SHELL"
    assert "--username" in check[1] and "--password" in check[1]
    assert "$MONGO_INITDB_ROOT_PASSWORD" in check[1].replace("{", "").replace("}", "")
    assert "rs.initiate({_id: 'rs0', members: [{_id: 0, host: 'mongodb:27017'}]})" in check[1]
    assert "isWritablePrimary" in check[1]


def test_services_reach_mongodb_as_the_replica_set_with_its_credentials():
    services = compose()["services"]
    replica_set = services["mongodb"]["command"][
        services["mongodb"]["command"].index("--replSet") + 1
    ]
    mongodb_env = interpolate(services["mongodb"]["environment"], COMPOSE_ENV)
    for name, svc in platform_services(services).items():
        raw = svc["environment"]["MONGO_URI"]
        with pytest.raises(Unset):
            interpolate(raw, {})  # no default password
        uri = urlsplit(interpolate(raw, COMPOSE_ENV))
        assert uri.scheme == "mongodb" and uri.hostname == "mongodb" and uri.port == 27017, name
        assert uri.username == mongodb_env["MONGO_INITDB_ROOT_USERNAME"], name
        assert uri.password == mongodb_env["MONGO_INITDB_ROOT_PASSWORD"], name
        query = parse_qs(uri.query)
        assert query["replicaSet"] == [replica_set], name
        assert query["authSource"] == ["admin"], name


def test_redemption_can_be_scaled():
    redemption = compose()["services"]["redemption"]
    for key in ("container_name", "ports", "hostname"):
        assert key not in redemption, key
    assert redemption["healthcheck"]["test"][-1] == "redemption"


def test_gateway_is_published_on_8000():
    gateway = compose()["services"]["gateway"]
    assert gateway["ports"] == ["8000:8000"]
    assert gateway["environment"]["WEB_SERVER_ADDRESS"] == "0.0.0.0:8000"
    ports = [port for svc in compose()["services"].values() for port in svc.get("ports", [])]
    assert [port for port in ports if port.startswith("127.0.0.1:")] == ["127.0.0.1:15672:15672"]


def test_secrets_go_only_where_they_are_needed():
    services = compose()["services"]
    holders = [
        name for name, svc in services.items() if "OPERATOR_SECRET" in svc.get("environment", {})
    ]
    assert holders == ["issuance"]
    assert "OPERATOR_SECRET" not in (ROOT / "services/redemption/config.yml").read_text()
    holders = [
        name
        for name, svc in services.items()
        if "MONGO_INITDB_ROOT_PASSWORD" in svc.get("environment", {})
    ]
    assert holders == ["mongodb"]


def test_container_configs_leave_no_in_process_engine():
    for name in SERVICES:
        text = (ROOT / f"services/{name}/config.yml").read_text()
        assert "mongomock" not in text, name
    text = (ROOT / "deploy/entrypoint.sh").read_text()
    # a container not told where MongoDB and RabbitMQ are stops at once, saying so
    assert ': "${MONGO_URI:?' in text and ': "${AMQP_URI:?' in text


def test_entrypoint_refuses_to_start_without_mongo_uri():
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AMQP_URI": "pyamqp://x@rabbitmq/"}
    run = subprocess.run(
        ["sh", str(ROOT / "deploy/entrypoint.sh"), "catalog"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode != 0 and "MONGO_URI" in run.stderr


@pytest.mark.skipif(
    subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0
    if shutil.which("docker")
    else True,
    reason="the docker compose plugin is not installed",
)
def test_docker_compose_reads_the_file():
    def config(environ, *args):
        env = {key: value for key, value in os.environ.items() if not key.startswith("COMPOSE_")}
        env = {**env, **environ}
        for key in COMPOSE_ENV:
            if key not in environ:
                env.pop(key, None)
        return subprocess.run(
            ["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    ok = config(COMPOSE_ENV, "--format", "json")
    assert ok.returncode == 0, ok.stderr
    services = json.loads(ok.stdout)["services"]
    for name in SERVICES:
        assert "replicaSet=rs0" in services[name]["environment"]["MONGO_URI"]
        assert services[name]["healthcheck"]["test"][-1] == name
    missing = config(
        {key: value for key, value in COMPOSE_ENV.items() if key != "MONGO_ROOT_PASSWORD"}
    )
    assert missing.returncode != 0 and "MONGO_ROOT_PASSWORD" in missing.stderr


# -- the image ----------------------------------------------------------------------------------------
def test_dockerfile_copies_what_exists_and_entrypoint_configs_load(monkeypatch):
    text = dockerfile()
    for line in re.findall(r"^COPY (?:--\S+ )?(.+)$", text, re.M):
        *sources, _ = line.split()
        for source in sources:
            assert (ROOT / source).exists(), source
    assert "ENTRYPOINT" in text
    monkeypatch.setenv("OPERATOR_SECRET", "s" * 20)
    monkeypatch.setenv("CODE_DIGEST_KEY", "k" * 20)
    for name in SERVICES:
        config = load_config(ROOT / f"services/{name}/config.yml")
        assert config["AMQP_URI"] and config["MONGO_URI"]


def test_dockerfile_installs_the_runtime_dependencies_only_and_checks_them():
    text = dockerfile()
    installs = [
        shlex.split(command)
        for command in re.split(r"&&|\n(?=RUN )", re.sub(r"\\\n", " ", text))
        if "pip install" in command
    ]
    assert len(installs) == 1
    words = installs[0][installs[0].index("install") + 1 :]
    assert words[words.index("-c") + 1] == "constraints.txt"
    targets = [word for word in words if not word.startswith("-") and word != "constraints.txt"]
    assert targets == ["."], "the project itself, without extras such as [test]"
    assert "[test]" not in text and "pytest" not in text
    # the build imports everything the code imports (pypdf included), after the install
    assert text.index("python deploy/check_imports.py") > text.index("pip install")
    # Debian's pango for WeasyPrint, and the fonts the documents use
    apt = re.search(r"apt-get install ([^&]+)", re.sub(r"\\\n", " ", text)).group(1).split()
    assert {"libpango-1.0-0", "libpangoft2-1.0-0", "fonts-dejavu-core"} <= set(apt)
    assert re.search(r"^USER (?!root|0\b)\S+", text, re.M), "services run as a plain user"


def _normal(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_normal(Requirement(req).name): req for req in project["dependencies"]}
    extras = {
        _normal(Requirement(req).name)
        for reqs in project.get("optional-dependencies", {}).values()
        for req in reqs
    }
    return runtime, extras


def _imports(directory):
    """``{top-level module: first file}`` of every absolute import in ``directory``, those made
    inside functions included."""
    found = {}
    for path in sorted((ROOT / directory).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.partition(".")[0], str(path.relative_to(ROOT)))
    return found


def test_every_module_the_code_imports_is_a_runtime_dependency():
    runtime, extras = _runtime_dependencies()
    distributions = importlib.metadata.packages_distributions()
    imported = {}
    for directory in OWN_PACKAGES:
        for module, where in _imports(directory).items():
            if module not in sys.stdlib_module_names and module not in OWN_PACKAGES:
                imported.setdefault(module, where)
    assert "fontTools" in imported and "weasyprint" in imported  # the scan sees inside functions
    problems = []
    for module, where in sorted(imported.items()):
        dists = {_normal(dist) for dist in distributions.get(module, [])}
        if not dists:
            problems.append(f"{module} ({where}): no installed distribution provides it")
        elif dists & set(runtime):
            continue
        elif dists & set(TRANSITIVE_IMPORTS):
            continue
        elif dists & extras:
            problems.append(f"{module} ({where}): only in an extra (test/bench) of pyproject.toml")
        else:
            problems.append(f"{module} ({where}): {sorted(dists)} is no runtime dependency")
    assert not problems, "\n".join(problems)


def test_transitive_imports_come_with_a_runtime_dependency():
    runtime, _ = _runtime_dependencies()
    for dist, parent in TRANSITIVE_IMPORTS.items():
        assert parent in runtime
        required = [Requirement(req) for req in importlib.metadata.requires(parent) or []]
        assert any(
            _normal(req.name) == dist and (req.marker is None or req.marker.evaluate({"extra": ""}))
            for req in required
        ), f"{parent} no longer requires {dist}: make {dist} a direct dependency"


def test_runtime_dependencies_are_pinned_in_constraints():
    runtime, _ = _runtime_dependencies()
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, _, version = line.partition("==")
            pinned[_normal(name)] = version.strip()
    for name, requirement in runtime.items():
        versions = [spec.version for spec in Requirement(requirement).specifier]
        assert pinned.get(name) in versions, f"{requirement} vs constraints.txt {pinned.get(name)}"
    for dist in TRANSITIVE_IMPORTS:
        assert dist in pinned


def test_build_check_finds_imports_made_inside_functions():
    check_imports = load_script("check_imports")
    found = check_imports.third_party(
        check_imports.imported_modules([ROOT / name for name in OWN_PACKAGES])
    )
    assert {"fontTools.ttLib", "weasyprint"} <= set(found)
    assert not any(name.partition(".")[0] in OWN_PACKAGES for name in found)


@pytest.mark.skipif(not shutil.which("hadolint"), reason="hadolint is not installed")
def test_hadolint_finds_nothing():
    run = subprocess.run(
        ["hadolint", "--no-color", str(ROOT / "deploy/Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0 and not run.stdout.strip(), run.stdout + run.stderr


# -- the containers' healthcheck ------------------------------------------------------------------------
class _Health(BaseHTTPRequestHandler):
    answers = {}

    def do_GET(self):
        status, body = self.answers[self.path]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def health_server():
    server = HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_gateway_healthcheck_accepts_the_gateway_answering(health_server):
    healthcheck = load_script("healthcheck")
    degraded = {"status": "degraded", "down": ["settlement"], "services": {}}
    _Health.answers = {
        "/ok": (200, b'{"status": "ok"}'),
        "/degraded": (503, json.dumps(degraded).encode()),
        "/broken": (503, b"<html>proxy error</html>"),
        "/error": (500, b"{}"),
    }
    assert "200" in healthcheck.check_http(health_server + "/ok")
    assert "settlement" in healthcheck.check_http(health_server + "/degraded")
    for path in ("/broken", "/error"):
        with pytest.raises(healthcheck.Unhealthy):
            healthcheck.check_http(health_server + path)
    config = {"WEB_SERVER_ADDRESS": "0.0.0.0:8000"}
    assert healthcheck.gateway_health_url(config) == "http://127.0.0.1:8000/api/v1/health"


def test_service_healthcheck_fails_without_broker_or_service():
    healthcheck = load_script("healthcheck")
    with pytest.raises(healthcheck.Unhealthy):
        healthcheck.check_rpc_consumers("pyamqp://guest:guest@127.0.0.1:1/", "catalog", timeout=2)
    with pytest.raises(healthcheck.Unhealthy):
        healthcheck.service_config("no-such-service")
    assert healthcheck.main([]) == 2
    assert healthcheck.main(["no-such-service"]) == 1
