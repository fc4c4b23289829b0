"""The Kubernetes manifests (deploy/k8s), checked by reading them: no cluster runs here.

What is validated, offline:

- every built-in object (Namespace, ServiceAccount, ConfigMap, Secret, Deployment, Service,
  PodDisruptionBudget, Ingress) against the Kubernetes OpenAPI schemas that kubernetes-validate
  ships, strict (an unknown field fails), for the oldest and newest versions in KUBERNETES;
- the operators' resources (MongoDBCommunity, RabbitmqCluster, KEDA's ScaledObject and
  TriggerAuthentication), which kubernetes-validate does not know, against small schemas of our
  own below (CUSTOM_SCHEMAS): the fields these manifests use, their types, the required ones,
  the enums, no unknown field at the levels written. They were written from the operators' CRDs
  (mongodbcommunity.mongodb.com v1, rabbitmq.com v1beta1, keda.sh v1alpha1); the CRDs' full
  schemas are not vendored, so a field's deeper constraints (pod template overrides inside
  `statefulSet`, HPA `behavior`) are left to the API server;
- that the manifests agree with the code: a Deployment per service of aptic.registry, with
  readiness, liveness and startup probes; the image, entrypoint, user and healthcheck of
  deploy/Dockerfile; each service given exactly the secrets its config.yml reads; ConfigMap keys
  the code reads; ports matching WEB_SERVER_ADDRESS / WEB_PAGES_ADDRESS; redemption scaled on
  nameko's RPC queue; the MongoDB user allowed on each service's database.

Not validated here: that the operators accept the resources at runtime, that the probes pass in a
cluster, the Ingress controller's annotations (ingress-nginx's), and `kubectl kustomize` (run
when kubectl is installed, skipped otherwise).
"""

import copy
import functools
import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from jsonschema import Draft7Validator
from nameko.rpc import RPC_QUEUE_TEMPLATE

from aptic.registry import SERVICES
from shared.amqp_client import EVENT_QUEUE_ARGUMENTS

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
NAMESPACE = "aptic"
SECRET_TEMPLATE = "secret.template.yaml"
# the oldest Kubernetes still commonly run, and the newest kubernetes-validate knows
KUBERNETES = ("1.29.0", kubernetes_validate.latest_version())
SECRET_KEYS = {"OPERATOR_SECRET", "CODE_DIGEST_KEY", "WEB_SECRET", "MONGO_URI", "AMQP_URI"}
HEALTHCHECK = "/app/deploy/healthcheck.py"
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def manifests():
    """{file name: [objects]} of every YAML file in deploy/k8s but the kustomization (read once:
    a test that changes an object changes a deep copy)."""
    return {
        path.name: [doc for doc in yaml.load_all(path.read_text(), Loader=LOADER) if doc]
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
    }


def objects(kind=None):
    found = [doc for docs in manifests().values() for doc in docs]
    return [doc for doc in found if kind is None or doc["kind"] == kind]


def named(kind, name):
    matches = [doc for doc in objects(kind) if doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind} {name}: {len(matches)} found"
    return matches[0]


def container(deployment):
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_names(deployment):
    return {entry["name"] for entry in container(deployment).get("env", [])}


def secret_env(deployment):
    return {
        entry["name"]: entry["valueFrom"]["secretKeyRef"]
        for entry in container(deployment).get("env", [])
        if "secretKeyRef" in entry.get("valueFrom", {})
    }


@functools.cache
def config_variables(service):
    """The environment variables a service's container reads: its config.yml's ${VAR...}."""
    text = (ROOT / "services" / service / "config.yml").read_text()
    return frozenset(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))


def settings():
    return named("ConfigMap", "aptic-settings")["data"]


# -- built-in objects: the Kubernetes schemas ------------------------------------------------------


def builtin_objects():
    return [doc for doc in objects() if doc["kind"] not in CUSTOM_SCHEMAS]


@pytest.mark.parametrize("version", KUBERNETES)
def test_every_builtin_object_validates_against_the_kubernetes_schemas(version):
    checked = []
    for doc in builtin_objects():
        kubernetes_validate.validate(doc, version, strict=True)  # raises ValidationError
        checked.append(doc["kind"])
    assert {"Namespace", "ConfigMap", "Secret", "Deployment", "Service", "Ingress"} <= set(checked)
    assert "PodDisruptionBudget" in checked and "ServiceAccount" in checked


def test_the_kubernetes_validation_is_strict():
    broken = copy.deepcopy(named("Deployment", "catalog"))
    container(broken)["livenessProbes"] = container(broken).pop("livenessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES[-1], strict=True)
    broken = copy.deepcopy(named("Deployment", "catalog"))
    container(broken)["resources"]["limits"]["memory"] = ["512Mi"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES[-1], strict=True)


def test_only_the_operators_kinds_are_unknown_to_kubernetes_validate():
    for doc in objects():
        if doc["kind"] in CUSTOM_SCHEMAS:
            with pytest.raises(kubernetes_validate.SchemaNotFoundError):
                kubernetes_validate.validate(doc, KUBERNETES[-1], strict=True)


# -- the operators' resources: schemas of our own --------------------------------------------------


def obj(properties, required=(), extra=False):
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": extra,
    }


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
QUANTITY = {"type": ["string", "integer", "number"]}
ANY_OBJECT = {"type": "object"}
METADATA = obj(
    {"name": STRING, "namespace": STRING, "labels": ANY_OBJECT, "annotations": ANY_OBJECT},
    required=("name",),
)
RESOURCES = obj(
    {
        "requests": {"type": "object", "additionalProperties": QUANTITY},
        "limits": {"type": "object", "additionalProperties": QUANTITY},
    },
)


def resource(api_version, kind, spec):
    return obj(
        {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": METADATA,
            "spec": spec,
        },
        required=("apiVersion", "kind", "metadata", "spec"),
    )


# mongodbcommunity.mongodb.com/v1 MongoDBCommunity: spec requires security, type, users; a user
# requires name and roles, passwordSecretRef requires name; modes from the CRD's enum.
MONGODB_COMMUNITY = resource(
    "mongodbcommunity.mongodb.com/v1",
    "MongoDBCommunity",
    obj(
        {
            "type": {"enum": ["ReplicaSet"]},
            "members": {"type": "integer", "minimum": 1},
            "version": {"type": "string", "pattern": r"^\d+\.\d+\.\d+$"},
            "featureCompatibilityVersion": STRING,
            "security": obj(
                {
                    "authentication": obj(
                        {
                            "modes": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "enum": ["SCRAM", "SCRAM-SHA-256", "SCRAM-SHA-1", "X509"]
                                },
                            }
                        },
                        required=("modes",),
                    )
                },
            ),
            "users": {
                "type": "array",
                "minItems": 1,
                "items": obj(
                    {
                        "name": STRING,
                        "db": STRING,
                        "passwordSecretRef": obj(
                            {"name": STRING, "key": STRING}, required=("name",)
                        ),
                        "scramCredentialsSecretName": STRING,
                        "connectionStringSecretName": STRING,
                        "roles": {
                            "type": "array",
                            "minItems": 1,
                            "items": obj({"name": STRING, "db": STRING}, required=("name", "db")),
                        },
                    },
                    required=("name", "roles"),
                ),
            },
            "additionalMongodConfig": ANY_OBJECT,
            # a StatefulSet's spec, merged by the operator: the API server checks it
            "statefulSet": obj({"spec": ANY_OBJECT}, required=("spec",)),
        },
        required=("security", "type", "users"),
    ),
)

# rabbitmq.com/v1beta1 RabbitmqCluster: nothing required in spec (every field has a default).
RABBITMQ_CLUSTER = resource(
    "rabbitmq.com/v1beta1",
    "RabbitmqCluster",
    obj(
        {
            "replicas": {"type": "integer", "minimum": 0},
            "image": STRING,
            "resources": RESOURCES,
            "persistence": obj({"storage": QUANTITY, "storageClassName": STRING}),
            "rabbitmq": obj(
                {
                    "additionalConfig": STRING,
                    "advancedConfig": STRING,
                    "additionalPlugins": {"type": "array", "items": STRING},
                },
            ),
            "affinity": ANY_OBJECT,  # a core/v1 Affinity
            "service": obj({"type": {"enum": ["ClusterIP", "LoadBalancer", "NodePort"]}}),
        },
    ),
)

# keda.sh/v1alpha1 ScaledObject: spec requires scaleTargetRef (name) and triggers (type,
# metadata); the rabbitmq scaler's metadata as KEDA documents it.
SCALED_OBJECT = resource(
    "keda.sh/v1alpha1",
    "ScaledObject",
    obj(
        {
            "scaleTargetRef": obj(
                {"apiVersion": STRING, "kind": STRING, "name": STRING}, required=("name",)
            ),
            "minReplicaCount": {"type": "integer", "minimum": 0},
            "maxReplicaCount": {"type": "integer", "minimum": 1},
            "pollingInterval": {"type": "integer", "minimum": 1},
            "cooldownPeriod": {"type": "integer", "minimum": 0},
            "fallback": obj(
                {
                    "failureThreshold": {"type": "integer", "minimum": 0},
                    "replicas": {"type": "integer", "minimum": 0},
                },
                required=("failureThreshold", "replicas"),
            ),
            "advanced": obj(
                {
                    "horizontalPodAutoscalerConfig": obj({"behavior": ANY_OBJECT, "name": STRING}),
                    "restoreToOriginalReplicaCount": {"type": "boolean"},
                },
            ),
            "triggers": {
                "type": "array",
                "minItems": 1,
                "items": obj(
                    {
                        "type": {"const": "rabbitmq"},
                        "name": STRING,
                        "metadata": obj(
                            {
                                "protocol": {"enum": ["amqp", "http", "auto"]},
                                "queueName": STRING,
                                "mode": {"enum": ["QueueLength", "MessageRate"]},
                                "value": {"type": "string", "pattern": r"^\d+(\.\d+)?$"},
                                "activationValue": {"type": "string"},
                                "vhostName": STRING,
                            },
                            required=("queueName", "mode", "value"),
                        ),
                        "authenticationRef": obj(
                            {
                                "name": STRING,
                                "kind": {
                                    "enum": [
                                        "TriggerAuthentication",
                                        "ClusterTriggerAuthentication",
                                    ]
                                },
                            },
                            required=("name",),
                        ),
                    },
                    required=("type", "metadata"),
                ),
            },
        },
        required=("scaleTargetRef", "triggers"),
    ),
)

# keda.sh/v1alpha1 TriggerAuthentication: a secretTargetRef entry requires key, name, parameter.
TRIGGER_AUTHENTICATION = resource(
    "keda.sh/v1alpha1",
    "TriggerAuthentication",
    obj(
        {
            "secretTargetRef": {
                "type": "array",
                "minItems": 1,
                "items": obj(
                    {"parameter": STRING, "name": STRING, "key": STRING},
                    required=("key", "name", "parameter"),
                ),
            }
        },
    ),
)

# kustomize.config.k8s.io/v1beta1 Kustomization: the fields used here
KUSTOMIZATION = obj(
    {
        "apiVersion": {"const": "kustomize.config.k8s.io/v1beta1"},
        "kind": {"const": "Kustomization"},
        "namespace": STRING,
        "resources": {"type": "array", "items": STRING},
        "images": {
            "type": "array",
            "items": obj({"name": STRING, "newName": STRING, "newTag": STRING}, required=("name",)),
        },
    },
    required=("apiVersion", "kind", "resources"),
)

CUSTOM_SCHEMAS = {
    "MongoDBCommunity": MONGODB_COMMUNITY,
    "RabbitmqCluster": RABBITMQ_CLUSTER,
    "ScaledObject": SCALED_OBJECT,
    "TriggerAuthentication": TRIGGER_AUTHENTICATION,
}


def schema_errors(doc):
    validator = Draft7Validator(CUSTOM_SCHEMAS[doc["kind"]])
    return [f"{list(error.path)}: {error.message}" for error in validator.iter_errors(doc)]


def test_the_operators_resources_validate_against_their_schemas():
    kinds = {doc["kind"] for doc in objects() if doc["kind"] in CUSTOM_SCHEMAS}
    assert kinds == set(CUSTOM_SCHEMAS)
    for schema in [*CUSTOM_SCHEMAS.values(), KUSTOMIZATION]:
        Draft7Validator.check_schema(schema)
    for doc in objects():
        if doc["kind"] in CUSTOM_SCHEMAS:
            assert schema_errors(doc) == [], doc["kind"]


def test_the_operators_schemas_refuse_what_the_operators_refuse():
    mongodb = copy.deepcopy(named("MongoDBCommunity", "aptic-mongodb"))
    mongodb["spec"]["member"] = mongodb["spec"].pop("members")  # a typo: unknown field
    assert schema_errors(mongodb)
    mongodb = copy.deepcopy(named("MongoDBCommunity", "aptic-mongodb"))
    del mongodb["spec"]["users"][0]["roles"]
    assert schema_errors(mongodb)
    scaled = copy.deepcopy(named("ScaledObject", "redemption"))
    scaled["spec"]["triggers"][0]["metadata"]["value"] = 10  # KEDA's metadata is strings
    assert schema_errors(scaled)
    auth = copy.deepcopy(named("TriggerAuthentication", "aptic-rabbitmq"))
    del auth["spec"]["secretTargetRef"][0]["key"]
    assert schema_errors(auth)
    rabbitmq = copy.deepcopy(named("RabbitmqCluster", "aptic-rabbitmq"))
    rabbitmq["spec"]["replica"] = 3
    assert schema_errors(rabbitmq)


# -- the kustomization ------------------------------------------------------------------------------


def kustomization():
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def test_kustomization_lists_every_manifest_but_the_secret_template():
    doc = kustomization()
    assert list(Draft7Validator(KUSTOMIZATION).iter_errors(doc)) == []
    assert doc["namespace"] == NAMESPACE
    files = set(manifests())
    assert set(doc["resources"]) == files - {SECRET_TEMPLATE}
    assert len(doc["resources"]) == len(set(doc["resources"]))
    # the Namespace first: kubectl apply makes objects in the order given
    assert named("Namespace", NAMESPACE) in manifests()[doc["resources"][0]]


def test_every_object_is_in_the_namespace_and_part_of_the_platform():
    for doc in objects():
        labels = doc["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == "aptic", doc["metadata"]["name"]
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == NAMESPACE, doc["metadata"]["name"]


def test_the_secret_template_holds_placeholders_only():
    secrets = {doc["metadata"]["name"]: doc for doc in manifests()[SECRET_TEMPLATE]}
    assert set(secrets) == {"aptic-secrets", "aptic-mongodb-password"}
    assert set(secrets["aptic-secrets"]["stringData"]) == SECRET_KEYS
    for secret in secrets.values():
        for key, value in secret["stringData"].items():
            assert "CHANGE-ME" in value, key
    assert all(
        doc["kind"] != "Secret"
        for name, docs in manifests().items()
        if name != SECRET_TEMPLATE
        for doc in docs
    )


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_kustomize_builds_the_manifests():
    built = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    docs = [doc for doc in yaml.safe_load_all(built) if doc]
    expected = [doc for name in kustomization()["resources"] for doc in manifests()[name]]
    assert sorted((d["kind"], d["metadata"]["name"]) for d in docs) == sorted(
        (d["kind"], d["metadata"]["name"]) for d in expected
    )


# -- the services -----------------------------------------------------------------------------------


def test_every_service_has_a_deployment_running_it_with_its_probes():
    deployments = {doc["metadata"]["name"]: doc for doc in objects("Deployment")}
    assert set(deployments) == set(SERVICES)
    for service, deployment in deployments.items():
        c = container(deployment)
        assert c["name"] == service
        # the image's ENTRYPOINT (deploy/entrypoint.sh) takes the service's name
        assert "command" not in c and c["args"] == [service]
        for probe in PROBES:
            assert probe in c, f"{service}: no {probe}"
        for probe in ("startupProbe", "readinessProbe"):
            assert c[probe]["exec"]["command"] == ["python", HEALTHCHECK, service], service
            # the script's own timeouts are 5 s (broker, then HTTP for the gateway)
            assert c[probe]["timeoutSeconds"] >= 10
        live = c["livenessProbe"]
        if service == "gateway":
            assert live["tcpSocket"]["port"] == "http"
        elif service == "web":
            assert live["httpGet"] == {"path": "/static/aptic.css", "port": "http"}
            assert (ROOT / "services/web/static/aptic.css").is_file()
        else:
            assert live["exec"]["command"] == ["python", HEALTHCHECK, service]
        # liveness never gives up before readiness: a slow broker makes a pod unready first
        budget = live.get("periodSeconds", 10) * live.get("failureThreshold", 3)
        ready = c["readinessProbe"]
        assert budget >= ready.get("periodSeconds", 10) * ready.get("failureThreshold", 3)


def test_deployments_run_the_image_as_the_dockerfile_builds_it():
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    image = compose["x-service"]["image"].split(":")[0]
    uid = int(re.search(r"^USER (\d+)$", dockerfile, re.M).group(1))
    assert 'ENTRYPOINT ["/app/deploy/entrypoint.sh"]' in dockerfile
    assert re.search(r"^COPY .*deploy/healthcheck\.py.* \./deploy/$", dockerfile, re.M)
    entrypoint = (ROOT / "deploy/entrypoint.sh").read_text()
    required = set(re.findall(r': "\$\{([A-Z_]+):\?', entrypoint))
    assert required == {"AMQP_URI", "MONGO_URI"}
    assert [entry["name"] for entry in kustomization()["images"]] == [image]
    for deployment in objects("Deployment"):
        c = container(deployment)
        assert c["image"].split(":")[0] == image
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == uid
        assert required <= env_names(deployment), deployment["metadata"]["name"]


def test_each_service_gets_exactly_the_secrets_its_config_reads():
    template = named("Secret", "aptic-secrets")
    for deployment in objects("Deployment"):
        service = deployment["metadata"]["name"]
        given = secret_env(deployment)
        assert set(given) == SECRET_KEYS & config_variables(service), service
        for name, ref in given.items():
            assert ref == {"name": "aptic-secrets", "key": name}
            assert name in template["stringData"]
    # the operator's secret: issuance only (services/issuance/config.yml)
    holders = [
        d["metadata"]["name"] for d in objects("Deployment") if "OPERATOR_SECRET" in secret_env(d)
    ]
    assert holders == ["issuance"]


def code_reads(key):
    """A setting some service reads: in a services/*/config.yml, or named in the code itself
    (read from the environment, e.g. shared.entrypoints' EVENT_DELIVERY_LIMIT)."""
    if any(key in config_variables(service) for service in SERVICES):
        return True
    literal = re.compile(rf"[\"']{key}[\"']")
    sources = [*ROOT.glob("shared/**/*.py"), *ROOT.glob("services/**/*.py")]
    return any(literal.search(path.read_text()) for path in sources)


def test_configmap_keys_are_settings_the_code_reads():
    data = settings()
    assert data, "empty ConfigMap"
    for key, value in data.items():
        assert code_reads(key), f"{key}: no service reads it"
        assert isinstance(value, str), f"{key}: a ConfigMap value is a string"
    assert not SECRET_KEYS & set(data)
    for deployment in objects("Deployment"):
        assert container(deployment)["envFrom"] == [{"configMapRef": {"name": "aptic-settings"}}]
        # what is set one by one: the secrets, and fontconfig's cache on the writable /tmp
        assert env_names(deployment) - set(secret_env(deployment)) == {"XDG_CACHE_HOME"}


def test_the_gateway_and_the_pages_listen_where_their_services_send():
    addresses = {"gateway": "WEB_SERVER_ADDRESS", "web": "WEB_PAGES_ADDRESS"}
    for service, key in addresses.items():
        assert key in config_variables(service)
        host, _, port = settings()[key].rpartition(":")
        assert host == "0.0.0.0"  # reachable from the Service, not only inside the pod
        deployment = named("Deployment", service)
        assert container(deployment)["ports"][0] == {
            "name": "http",
            "containerPort": int(port),
            "protocol": "TCP",
        }
        svc = named("Service", service)
        assert svc["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
        assert svc["spec"]["ports"][0]["targetPort"] == "http"
    services = {doc["metadata"]["name"] for doc in objects("Service")}
    ingress = named("Ingress", "aptic")
    routes = {
        path["path"]: path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert routes == {"/api": "gateway", "/": "web"}
    assert set(routes.values()) <= services
    host = ingress["spec"]["rules"][0]["host"]
    assert settings()["PUBLIC_WEB_URL"] == f"https://{host}"
    assert settings()["COOKIE_SECURE"] == "true"


def test_every_pod_serves_its_metrics_where_prometheus_looks():
    host, _, port = settings()["METRICS_ADDRESS"].rpartition(":")
    assert host == "0.0.0.0"
    for deployment in objects("Deployment"):
        name = deployment["metadata"]["name"]
        ports = {p["name"]: p["containerPort"] for p in container(deployment)["ports"]}
        assert ports["metrics"] == int(port), name
        assert len(set(ports.values())) == len(ports), name
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == port
        assert annotations["prometheus.io/path"] == "/metrics"


def test_every_pod_runs_unprivileged_and_bounded():
    for deployment in objects("Deployment"):
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        c = container(deployment)
        security = c["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, name
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["capabilities"] == {"drop": ["ALL"]}, name
        for bound in ("requests", "limits"):
            assert set(c["resources"][bound]) == {"cpu", "memory"}, name
        # the one writable place: /tmp (print files being made, fontconfig's cache)
        assert c["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
        assert pod["volumes"][0]["name"] == "tmp" and "emptyDir" in pod["volumes"][0]
    issuance = named("Deployment", "issuance")
    assert settings()["PRINT_WORKERS"] == str(container(issuance)["resources"]["limits"]["cpu"])


def test_disruption_budgets_select_pods_that_exist():
    pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in objects("Deployment")]
    pod_labels.append({"app.kubernetes.io/name": "aptic-rabbitmq"})  # the operator's label
    mongodb = named("MongoDBCommunity", "aptic-mongodb")
    pod_labels.append(mongodb["spec"]["statefulSet"]["spec"]["template"]["metadata"]["labels"])
    budgets = {doc["metadata"]["name"]: doc for doc in objects("PodDisruptionBudget")}
    assert {"gateway", "web", "redemption", "aptic-mongodb", "aptic-rabbitmq"} <= set(budgets)
    for name, budget in budgets.items():
        selector = budget["spec"]["selector"]["matchLabels"]
        assert any(selector.items() <= labels.items() for labels in pod_labels), name
    # a budget keeping 1 of a 1-replica Deployment would block every node drain
    for deployment in objects("Deployment"):
        if deployment["spec"].get("replicas", 2) < 2:
            assert deployment["metadata"]["name"] not in budgets


# -- redemption's scaling ---------------------------------------------------------------------------


def test_redemption_scales_on_its_rpc_queue_depth():
    scaled = named("ScaledObject", "redemption")
    spec = scaled["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "redemption",
    }
    # KEDA owns the replica count: the Deployment sets none (an apply would reset it)
    assert "replicas" not in named("Deployment", "redemption")["spec"]
    # an RPC queue without a consumer answers nobody: never to zero
    assert 2 <= spec["minReplicaCount"] < spec["maxReplicaCount"]
    assert spec["fallback"]["replicas"] >= spec["minReplicaCount"]
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["queueName"] == RPC_QUEUE_TEMPLATE.format("redemption")
    assert trigger["metadata"]["queueName"] == "rpc-redemption"
    assert trigger["metadata"]["mode"] == "QueueLength"
    auth = named("TriggerAuthentication", trigger["authenticationRef"]["name"])
    (ref,) = auth["spec"]["secretTargetRef"]
    # the RabbitMQ Cluster Operator's Secret <cluster>-default-user holds connection_string
    cluster = named("RabbitmqCluster", "aptic-rabbitmq")["metadata"]["name"]
    assert ref == {
        "parameter": "host",
        "name": f"{cluster}-default-user",
        "key": "connection_string",
    }
    # the vhost KEDA looks in is the one AMQP_URI names
    template_uri = named("Secret", "aptic-secrets")["stringData"]["AMQP_URI"]
    vhost = template_uri.rsplit("/", 1)[1] or "/"
    assert trigger["metadata"]["vhostName"] == vhost


# -- MongoDB and RabbitMQ ---------------------------------------------------------------------------


def test_mongodb_is_a_replica_set_of_three_whose_user_reaches_every_service_database():
    mongodb = named("MongoDBCommunity", "aptic-mongodb")
    spec = mongodb["spec"]
    assert spec["type"] == "ReplicaSet" and spec["members"] == 3
    assert int(spec["version"].split(".")[0]) in (7, 8)
    assert spec["featureCompatibilityVersion"] == ".".join(spec["version"].split(".")[:2])
    assert spec["security"]["authentication"]["modes"] == ["SCRAM"]
    (user,) = spec["users"]
    password = named("Secret", user["passwordSecretRef"]["name"])
    assert "password" in password["stringData"]
    prefix = settings()["MONGO_DB_PREFIX"]
    assert {(r["name"], r["db"]) for r in user["roles"]} == {
        ("readWrite", f"{prefix}{service}") for service in SERVICES
    }
    # MONGO_URI names the user, the replica set and the operator's member addresses
    uri = named("Secret", "aptic-secrets")["stringData"]["MONGO_URI"]
    name = mongodb["metadata"]["name"]
    assert uri.startswith(f"mongodb://{user['name']}:")
    assert f"authSource={user['db']}" in uri and f"replicaSet={name}" in uri
    for member in range(spec["members"]):
        assert f"{name}-{member}.{name}-svc.{NAMESPACE}.svc.cluster.local:27017" in uri


def test_rabbitmq_is_a_cluster_of_three_for_the_quorum_queues():
    assert EVENT_QUEUE_ARGUMENTS["x-queue-type"] == "quorum"  # what the services declare
    rabbitmq = named("RabbitmqCluster", "aptic-rabbitmq")
    # a quorum queue keeps going with a majority of its replicas: 3 nodes survive one down
    assert rabbitmq["spec"]["replicas"] == 3
    assert "pause_minority" in rabbitmq["spec"]["rabbitmq"]["additionalConfig"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert rabbitmq["spec"]["image"] == compose["services"]["rabbitmq"]["image"]
    uri = named("Secret", "aptic-secrets")["stringData"]["AMQP_URI"]
    name = rabbitmq["metadata"]["name"]
    assert uri.startswith("pyamqp://")
    assert f"@{name}.{NAMESPACE}.svc.cluster.local:5672/" in uri
