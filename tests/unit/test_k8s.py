"""deploy/k8s/: what `kubectl apply -k` sends is valid for the Kubernetes API and the
operators' resources, starts every Civic process the way it must run (its command,
configuration, probes, sizing, graceful stop, order), and the production overlay wires
the services to its RabbitMQ and PostgreSQL clusters and scales them on their own
queues. Rendered and validated offline (tests/unit/k8s_support.py); no cluster needed.
"""

from __future__ import annotations

import inspect
import re
import shutil
import subprocess
from urllib.parse import quote, urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kombu import Connection

from civic import config, probe, runner, topology
from tests.unit import k8s_support
from tests.unit.k8s_support import KustomizeError, containers_of, render

K8S = config.ROOT / "deploy" / "k8s"
BASE = K8S / "base"
PRODUCTION = K8S / "overlays" / "production"
# What an operator applies: deploy/k8s (the base, with its image) or the production overlay.
ENTRY_POINTS = {"default": K8S, "production": PRODUCTION}
# The oldest Kubernetes these manifests are checked against, and the newest schemas the
# kubernetes-validate package has.
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.latest_version())
NAMESPACE = "civic"

# README, "Benchmarks" (bench.memory, bench.cpu on PostgreSQL): the largest RSS a process
# ended the run with, groups' peak, and what the probe process adds in the container
# (`python -m civic.probe live`: 14 MB measured with /usr/bin/time).
MEASURED_RSS_MB = 97
GROUPS_PEAK_MB = 127
PROBE_PROCESS_MB = 14
# civic/runner.py, serve(): how long a stopping service's workers get to finish.
RUNNER_STOP_GRACE_S = 15


@pytest.fixture(scope="module", params=sorted(ENTRY_POINTS))
def entry_point(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def rendered(entry_point) -> list[dict]:
    return render(ENTRY_POINTS[entry_point])


@pytest.fixture(scope="module")
def production() -> list[dict]:
    return render(PRODUCTION)


def of_kind(documents: list[dict], kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == kind}


def only(documents: list[dict], kind: str) -> dict:
    [document] = of_kind(documents, kind).values()
    return document


def pod_spec(document: dict) -> dict:
    return document["spec"]["template"]["spec"]


def mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "M": 1e6 / 2**20, "G": 1e9 / 2**20}
    number, unit = re.fullmatch(r"([\d.]+)([A-Za-z]*)", quantity).groups()
    return float(number) * units[unit] if unit else float(number) / 2**20


def cores(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def megabytes(mib: float) -> float:
    return mib * 2**20 / 1e6


# --- what is sent is valid ---------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_document_is_valid_for_the_api_or_its_operator(rendered, version):
    kinds = set()
    for document in rendered:
        k8s_support.validate(document, version)  # raises on any error, an unknown field too
        kinds.add(document["kind"])
    assert {"Namespace", "ConfigMap", "Deployment", "Job", "PodDisruptionBudget"} <= kinds


def test_production_custom_resources_are_checked_against_their_crds(production):
    custom = {doc["kind"] for doc in production if k8s_support.is_custom_resource(doc)}
    assert custom == {"RabbitmqCluster", "Cluster", "ScaledObject", "TriggerAuthentication"}


def test_validation_is_strict_about_misspelt_fields(production):
    deployment = of_kind(production, "Deployment")["civic-groups"]
    misspelt = yaml.safe_load(yaml.safe_dump(deployment))
    pod_spec(misspelt)["containers"][0]["livenesProbe"] = pod_spec(misspelt)["containers"][0][
        "livenessProbe"
    ]
    with pytest.raises(jsonschema.ValidationError):
        k8s_support.validate(misspelt, KUBERNETES_VERSIONS[-1])

    scaled = yaml.safe_load(yaml.safe_dump(of_kind(production, "ScaledObject")["civic-groups"]))
    scaled["spec"]["minReplicas"] = 2  # KEDA's field is minReplicaCount
    with pytest.raises(jsonschema.ValidationError):
        k8s_support.validate(scaled, KUBERNETES_VERSIONS[-1])

    rabbit = yaml.safe_load(yaml.safe_dump(only(production, "RabbitmqCluster")))
    rabbit["spec"]["replicas"] = "three"
    with pytest.raises(jsonschema.ValidationError):
        k8s_support.validate(rabbit, KUBERNETES_VERSIONS[-1])


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl on this machine")
@pytest.mark.parametrize("directory", [K8S, BASE, PRODUCTION], ids=["default", "base", "prod"])
def test_the_renderer_renders_what_kubectl_kustomize_does(directory):
    """The renderer the other tests rely on, against kustomize itself where it is."""
    output = subprocess.run(
        ["kubectl", "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    theirs = [doc for doc in yaml.safe_load_all(output) if doc]

    def key(doc):
        return (doc["kind"], doc["metadata"]["name"])

    assert sorted(theirs, key=key) == sorted(render(directory), key=key)


def test_the_renderer_refuses_what_it_does_not_do(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("commonLabels: {a: b}\n", encoding="utf-8")
    with pytest.raises(KustomizeError, match="commonLabels"):
        render(tmp_path)


def test_every_kustomization_names_each_of_its_files_once():
    def named(directory):
        kustomization = k8s_support.load_kustomization(directory)
        resources = [entry for entry in kustomization["resources"] if entry.endswith(".yaml")]
        patches = [patch["path"] for patch in kustomization.get("patches", [])]
        return set(resources) | set(patches), len(resources)

    base_files = {path.name for path in BASE.glob("*.yaml")}
    base_named, base_count = named(BASE)
    assert base_named == base_files - {"kustomization.yaml", "secret.example.yaml"}
    assert base_count == len(base_named)
    production_files = {path.name for path in PRODUCTION.glob("*.yaml")}
    production_named, _ = named(PRODUCTION)
    assert production_named == production_files - {"kustomization.yaml", "secret.example.yaml"}
    assert "../../base" in k8s_support.load_kustomization(PRODUCTION)["resources"]
    assert k8s_support.load_kustomization(K8S)["resources"] == ["base"]
    assert {path.name for path in K8S.glob("*.yaml")} == {"kustomization.yaml"}


# --- every process, started the way it must run -----------------------------------------


def test_a_deployment_per_service_with_its_command_and_configuration(rendered, entry_point):
    deployments = of_kind(rendered, "Deployment")
    assert set(deployments) == {f"civic-{name}" for name in config.SERVICES}
    image = k8s_support.load_kustomization(ENTRY_POINTS[entry_point])["images"][0]
    for name in config.SERVICES:
        deployment = deployments[f"civic-{name}"]
        container = pod_spec(deployment)["containers"][0]
        assert container["command"] == ["python", "-m", "civic.runner", name]
        sources = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
        assert sources == {"civic-config", "civic-secrets"}
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert deployment["metadata"]["namespace"] == NAMESPACE
    for document in rendered:
        for container in containers_of(document):
            assert container["image"] == f"{image['newName']}:{image['newTag']}", document
    service = of_kind(rendered, "Service")["civic-gateway"]
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "gateway"}
    gateway = pod_spec(deployments["civic-gateway"])["containers"][0]
    assert service["spec"]["ports"][0]["targetPort"] in [port["name"] for port in gateway["ports"]]


def test_the_base_leaves_the_image_to_the_kustomization_applied():
    # An `images` entry matches the image's current name: one in the base would rename
    # `civic` before an overlay's entry could match it, and the overlay's would do nothing.
    assert "images" not in k8s_support.load_kustomization(BASE)
    for document in render(BASE):
        for container in containers_of(document):
            assert container["image"] == "civic"


def test_only_the_job_migrates_and_each_domain_service_waits_for_it(rendered):
    job = of_kind(rendered, "Job")["civic-migrate"]
    assert pod_spec(job)["containers"][0]["command"] == ["civic", "migrate"]
    assert pod_spec(job)["restartPolicy"] == "OnFailure"
    deployments = of_kind(rendered, "Deployment")
    for name in config.SERVICES:
        spec = pod_spec(deployments[f"civic-{name}"])
        for container in spec.get("initContainers", []) + spec["containers"]:
            assert "migrate" not in container["command"][:2], (name, container["command"])
        waits = [c["command"] for c in spec.get("initContainers", [])]
        if name == "gateway":
            assert waits == []  # no database to wait for
            continue
        [command] = waits
        assert command[:3] == ["python", "-m", "civic.probe"]
        args = probe._parser().parse_args(command[3:])
        assert (args.check, args.service) == ("migrated", name)
        assert args.wait > 0


def test_domain_services_are_probed_on_their_own_health(rendered):
    deployments = of_kind(rendered, "Deployment")
    for name in config.DOMAIN_SERVICES:
        container = pod_spec(deployments[f"civic-{name}"])["containers"][0]
        checks = {}
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            command = container[kind]["exec"]["command"]
            assert command[:3] == ["python", "-m", "civic.probe"], (name, kind)
            args = probe._parser().parse_args(command[3:])
            assert args.service == name
            checks[kind] = args
        # Liveness never asks the database: a database outage must not restart services.
        assert checks["livenessProbe"].check == checks["startupProbe"].check == "live"
        assert checks["readinessProbe"].check == "ready"
        # A process rewrites its file every CHECK_INTERVAL (+ the database's answer):
        # a healthy one is never older than the probes' max age.
        assert probe.CHECK_INTERVAL + probe.DATABASE_TIMEOUT < checks["livenessProbe"].max_age
        liveness = container["livenessProbe"]
        assert liveness["timeoutSeconds"] >= 2 and liveness["failureThreshold"] >= 2
        assert container["volumeMounts"][0]["mountPath"] == "/var/lib/civic"


def test_the_configured_var_dir_is_where_the_probe_looks(rendered):
    config_map = of_kind(rendered, "ConfigMap")["civic-config"]
    mounts = {
        mount["mountPath"]
        for name in config.DOMAIN_SERVICES
        for mount in pod_spec(of_kind(rendered, "Deployment")[f"civic-{name}"])["containers"][0][
            "volumeMounts"
        ]
    }
    assert mounts == {config_map["data"]["CIVIC_VAR_DIR"]}
    # Without CIVIC_VAR_DIR the probe and the services agree on the default too.
    assert str(probe.DEFAULT_VAR_DIR) == config.from_env({})["CIVIC_VAR_DIR"]


def test_the_gateway_is_probed_on_its_healthz(rendered):
    from services.gateway import openapi
    from services.gateway.service import GatewayService

    container = pod_spec(of_kind(rendered, "Deployment")["civic-gateway"])["containers"][0]
    paths = openapi.document(GatewayService)["paths"]
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        check = container[kind]["httpGet"]
        assert check["path"] in paths and "get" in paths[check["path"]]
        assert check["port"] in [port["name"] for port in container["ports"]]
    listen = of_kind(rendered, "ConfigMap")["civic-config"]["data"]["CIVIC_WEB_ADDRESS"]
    assert listen == f"0.0.0.0:{container['ports'][0]['containerPort']}"


def test_resources_come_from_the_benchmark(rendered):
    for document in rendered:
        for container in containers_of(document):
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), container["name"]
            assert {"cpu", "memory"} <= set(resources["limits"]), container["name"]
            assert cores(resources["requests"]["cpu"]) <= cores(resources["limits"]["cpu"])
            assert mebibytes(resources["requests"]["memory"]) <= mebibytes(
                resources["limits"]["memory"]
            )
    deployments = of_kind(rendered, "Deployment")
    for name in config.SERVICES:
        resources = pod_spec(deployments[f"civic-{name}"])["containers"][0]["resources"]
        request = megabytes(mebibytes(resources["requests"]["memory"]))
        limit = megabytes(mebibytes(resources["limits"]["memory"]))
        steady = GROUPS_PEAK_MB if name == "groups" else MEASURED_RSS_MB
        assert request >= steady + PROBE_PROCESS_MB, name
        # Twice the highest peak: room for bursts; a leak restarts the container.
        assert limit >= 2 * GROUPS_PEAK_MB, name
    # groups computes CIVIC_PASSWORD_HASH_CONCURRENCY argon2 hashes at once, in threads:
    # its CPU limit covers them, and the setting is not left to the node's CPU count.
    hashes = int(
        of_kind(rendered, "ConfigMap")["civic-config"]["data"]["CIVIC_PASSWORD_HASH_CONCURRENCY"]
    )
    groups = pod_spec(deployments["civic-groups"])["containers"][0]["resources"]
    assert cores(groups["limits"]["cpu"]) >= hashes


def test_a_stopping_pod_gets_longer_than_its_longest_handler(rendered):
    assert f"eventlet.Timeout({RUNNER_STOP_GRACE_S}, False)" in inspect.getsource(runner.serve)
    handler_timeout = config.from_env({})["CIVIC_HANDLER_TIMEOUT"]
    for name, deployment in of_kind(rendered, "Deployment").items():
        spec = pod_spec(deployment)
        pre_stop = spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
        assert pre_stop[0] == "sleep", name
        needed = float(pre_stop[1]) + handler_timeout + RUNNER_STOP_GRACE_S
        assert spec["terminationGracePeriodSeconds"] > needed, name
        # A rollout starts the new pod before it stops an old one.
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_a_disruption_budget_per_deployment(rendered):
    budgets = of_kind(rendered, "PodDisruptionBudget")
    for name, deployment in of_kind(rendered, "Deployment").items():
        budget = budgets[name]
        assert budget["spec"]["selector"] == deployment["spec"]["selector"]
        # One pod at a time: never blocks a node drain, never takes all of a service.
        assert budget["spec"]["maxUnavailable"] == 1
    assert len(budgets) == len(config.SERVICES)


def test_pods_run_as_the_images_user_without_privileges(rendered):
    for document in rendered:
        for spec in k8s_support.pod_specs(document):
            assert spec["securityContext"]["runAsNonRoot"] is True
            assert isinstance(spec["securityContext"]["runAsUser"], int)  # checkable
            assert spec["automountServiceAccountToken"] is False
            for container in spec.get("initContainers", []) + spec["containers"]:
                assert container["securityContext"]["allowPrivilegeEscalation"] is False


# --- configuration ------------------------------------------------------------------------


def resolve_env(container: dict, config_maps: dict, secrets: dict) -> dict:
    """The environment the kubelet gives a container: envFrom's sources in order, then
    `env` in order, `$(NAME)` replaced by a variable defined before it."""
    env = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_maps[source["configMapRef"]["name"]])
        else:
            env.update(secrets[source["secretRef"]["name"]])
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = re.sub(
                r"\$\((\w+)\)",
                lambda match: env.get(match.group(1), match.group(0)),
                variable["value"],
            )
        else:
            reference = variable["valueFrom"]["secretKeyRef"]
            env[variable["name"]] = secrets[reference["name"]][reference["key"]]
    return env


def example_secret(directory) -> dict:
    documents = yaml.safe_load_all((directory / "secret.example.yaml").read_text("utf-8"))
    [secret] = [doc for doc in documents if doc]
    assert secret["metadata"]["name"] == "civic-secrets"
    return secret["stringData"]


def test_base_config_and_secret_are_accepted_by_civic_config():
    documents = render(K8S)
    data = of_kind(documents, "ConfigMap")["civic-config"]["data"]
    secret = example_secret(BASE)
    settings = config.from_env({**data, **secret})
    assert settings["CIVIC_QUEUE_TYPE"] == "quorum"
    # The broker may be a cluster: every node, `;`-separated, kombu's failover list.
    assert len(Connection(settings["AMQP_URI"]).alt) == 3
    assert settings["CIVIC_PASSWORD_HASH_CONCURRENCY"] == 2


def operators_secrets(documents: list[dict]) -> dict[str, dict]:
    """The secrets the operators make for the production overlay's clusters, built the
    way they build them (rabbitmq/cluster-operator internal/resource/
    default_user_secret.go; cloudnative-pg pkg/specs/secrets.go), with made-up
    passwords of the same alphabets."""
    rabbit = only(documents, "RabbitmqCluster")
    postgres = only(documents, "Cluster")
    namespace = rabbit["metadata"]["namespace"]
    username, password = "default_user_Zk3-aQ_9", "c2VjcmV0-c2VjcmV0_c2Vj"  # base64url
    host = f"{rabbit['metadata']['name']}.{namespace}.svc"
    initdb = postgres["spec"]["bootstrap"]["initdb"]
    pg_password = "p@ss:w/rd%"  # anything: CloudNativePG encodes it in `uri`
    pg_host = f"{postgres['metadata']['name']}-rw.{postgres['metadata']['namespace']}:5432"
    return {
        f"{rabbit['metadata']['name']}-default-user": {
            "username": username,
            "password": password,
            "host": host,
            "port": "5672",
            "connection_string": f"amqp://{username}:{password}@{host}:5672/",
        },
        f"{postgres['metadata']['name']}-app": {
            "username": initdb["owner"],
            "password": pg_password,
            "uri": f"postgresql://{initdb['owner']}:{quote(pg_password, safe='')}"
            f"@{pg_host}/{initdb['database']}",
        },
    }


def test_production_processes_reach_the_clusters_of_the_overlay(production):
    config_maps = {"civic-config": of_kind(production, "ConfigMap")["civic-config"]["data"]}
    secrets = {"civic-secrets": example_secret(PRODUCTION), **operators_secrets(production)}
    rabbit = only(production, "RabbitmqCluster")["metadata"]["name"]
    postgres = only(production, "Cluster")["metadata"]["name"]
    environments = []
    for document in production:
        for container in containers_of(document):
            env = resolve_env(container, config_maps, secrets)
            settings = config.from_env(env)
            amqp = urlsplit(settings["AMQP_URI"])
            assert amqp.hostname == f"{rabbit}.{NAMESPACE}.svc"  # the cluster's Service
            assert Connection(settings["AMQP_URI"]).virtual_host == "/"
            assert urlsplit(settings["RABBIT_MANAGEMENT_URI"]).hostname == rabbit
            assert urlsplit(settings["RABBIT_MANAGEMENT_URI"]).username.startswith("default_user")
            for url in settings["CIVIC_DATABASES"].values():
                assert urlsplit(url).hostname == f"{postgres}-rw.{NAMESPACE}"
            assert settings["CIVIC_QUEUE_TYPE"] == "quorum"
            environments.append(env)
    assert len(environments) == 1 + len(config.SERVICES) + len(config.DOMAIN_SERVICES)
    assert all(env == environments[0] for env in environments)


def test_production_clusters_are_three_nodes_and_the_connection_budget_holds(production):
    assert only(production, "RabbitmqCluster")["spec"]["replicas"] == 3
    postgres = only(production, "Cluster")["spec"]
    assert postgres["instances"] == 3
    data = of_kind(production, "ConfigMap")["civic-config"]["data"]
    settings = config.from_env(data)
    per_process = settings["CIVIC_DB_POOL_SIZE"] + settings["CIVIC_DB_MAX_OVERFLOW"]
    most = sum(
        scaled["spec"]["maxReplicaCount"] for scaled in of_kind(production, "ScaledObject").values()
    )
    # The migration Job and the init containers' checks need a few more; 10% spare.
    assert most * per_process <= 0.9 * int(postgres["postgresql"]["parameters"]["max_connections"])


# --- scaling on queue depth ---------------------------------------------------------------


def test_each_domain_service_scales_on_its_own_queues(production):
    scaled_objects = of_kind(production, "ScaledObject")
    authentications = of_kind(production, "TriggerAuthentication")
    rabbit = only(production, "RabbitmqCluster")["metadata"]["name"]
    queues = [queue.name for queue in topology.civic_queues()]
    assert set(scaled_objects) == {f"civic-{name}" for name in config.DOMAIN_SERVICES}
    handler_queues = 0
    for name in config.DOMAIN_SERVICES:
        scaled = scaled_objects[f"civic-{name}"]["spec"]
        assert scaled["scaleTargetRef"] == {"name": f"civic-{name}"}
        assert 2 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"]
        [trigger] = scaled["triggers"]
        metadata = trigger["metadata"]
        assert trigger["type"] == "rabbitmq"
        assert metadata["protocol"] == "http" and metadata["mode"] == "QueueLength"
        assert metadata["useRegex"] == "true" and metadata["operation"] == "sum"
        assert int(metadata["value"]) > 0
        # KEDA runs in its own namespace: the broker's Service by its full name.
        assert urlsplit(metadata["host"]).hostname == f"{rabbit}.{NAMESPACE}.svc"
        assert urlsplit(metadata["host"]).port == 15672
        # The regex (RabbitMQ's management API matches it) picks exactly this service's
        # RPC queue and its handlers' queues: not their retry queues, where messages
        # only wait, nor the dead letters, nor another service's.
        mine = {
            queue
            for queue in queues
            if queue == f"rpc-{name}"
            or (topology.queue_owner(queue) == name and ".retry-" not in queue)
        }
        picked = {queue for queue in queues if re.search(metadata["queueName"], queue)}
        assert f"rpc-{name}" in mine
        assert picked == mine, name
        handler_queues += len(mine) - 1
        authentication = authentications[trigger["authenticationRef"]["name"]]["spec"]
        assert {ref["parameter"] for ref in authentication["secretTargetRef"]} == {
            "username",
            "password",
        }
        assert {ref["name"] for ref in authentication["secretTargetRef"]} == {
            f"{rabbit}-default-user"
        }
    assert handler_queues > 10  # the regexes were tried on event queues too


def test_autoscaled_deployments_leave_their_replica_count_to_the_autoscaler(production):
    autoscaled = {
        doc["spec"]["scaleTargetRef"]["name"]
        for doc in production
        if doc["kind"] in ("ScaledObject", "HorizontalPodAutoscaler")
    }
    assert autoscaled == {f"civic-{name}" for name in config.SERVICES}
    for name, deployment in of_kind(production, "Deployment").items():
        assert "replicas" not in deployment["spec"], name
    base = of_kind(render(K8S), "Deployment")
    assert base["civic-groups"]["spec"]["replicas"] >= 2
