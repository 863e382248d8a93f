"""The Kubernetes manifests (deploy/k8s): each kustomization renders, every object validates
against Kubernetes 1.32's schemas, and what is rendered is the compose topology, wired right."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent import futures
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from stackmesh_common.config import StackConfig, load_config
from stackmesh_common.service import _validate
from stackmesh_gateway.render import render

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
RUNBOOK = K8S / "README.md"
COMPOSE_FILE = REPO / "deploy" / "docker-compose.yaml"
COMPOSE_DISTRIBUTION = REPO / "deploy" / "distributions" / "compose.yaml"
SERVICE_ROLES_SQL = REPO / "deploy" / "launcher" / "stackmesh_launcher" / "service_roles.sql"
CODEGEN = REPO / "protos" / "codegen.py"
KUBERNETES = "1.32.0"
NAMESPACE = "stackmesh"
# Where every pod mounts the distribution ConfigMap, and the file the processes read.
CONFIG_DIR = "/etc/stackmesh"
CONFIG = f"{CONFIG_DIR}/stackmesh.yaml"
METRICS_PORT = 9464
SCRAPE = {"prometheus.io/scrape": "true", "prometheus.io/port": str(METRICS_PORT), "prometheus.io/path": "/metrics"}
# Every container's securityContext: the restricted Pod Security Standard, and a read-only root.
LOCKED_DOWN = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
# Compose containers that are no Deployment here: Postgres is outside the manifests (a managed
# one, or the cloudnative-pg component) and NATS is a StatefulSet.
NOT_DEPLOYMENTS = {"postgres", "nats"}
# Custom resources kubernetes-validate has no schema for; every other object is validated, and
# a kind with no schema that is not listed here fails.
UNKNOWN_CRDS = {("postgresql.cnpg.io/v1", "Cluster")}
# The renders: the base, the two overlays, and the cpu overlay with the CloudNativePG
# component added, as the runbook says to.
RENDERS = ["base", "cpu", "gpu", "cpu+cloudnative-pg"]
# What each render adds to the compose containers' Deployments.
EXTRA_DEPLOYMENTS = {"gpu": {"vllm"}}


def kubectl() -> str:
    """kubectl, whose built-in kustomize renders the manifests; missing or too old fails the
    tests (a skip would pass manifests nobody rendered)."""
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail("kubectl is not on PATH, so deploy/k8s cannot be rendered: install kubectl >= 1.27 (kustomize v5 built in)")
    version = subprocess.run([path, "version", "--client", "-o", "json"], check=False, capture_output=True, text=True, timeout=30)
    kustomize = json.loads(version.stdout or "{}").get("kustomizeVersion", "")
    if not re.fullmatch(r"v([5-9]|\d{2,})\..*", kustomize):
        pytest.fail(f"kubectl at {path} embeds kustomize {kustomize or '< v4.5'}; deploy/k8s needs kustomize v5 (kubectl >= 1.27)")
    return path


def kustomize(binary: str, directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run([binary, "kustomize", str(directory)], check=False, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {directory} failed:\n{result.stderr}")
    return [obj for obj in yaml.safe_load_all(result.stdout) if obj]


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Every render's objects, rendered in parallel."""
    binary = kubectl()
    with_cnpg = tmp_path_factory.mktemp("cpu-cloudnative-pg")
    # kustomize takes only relative paths to other kustomizations.
    (with_cnpg / "kustomization.yaml").write_text(yaml.safe_dump({
        "namespace": NAMESPACE,
        "resources": [os.path.relpath(K8S / "overlays" / "cpu", with_cnpg)],
        "components": [os.path.relpath(K8S / "components" / "cloudnative-pg", with_cnpg)],
    }))  # fmt: skip
    directories = {"base": K8S / "base", "cpu": K8S / "overlays" / "cpu", "gpu": K8S / "overlays" / "gpu", "cpu+cloudnative-pg": with_cnpg}
    with futures.ThreadPoolExecutor(len(directories)) as pool:
        rendered = {name: pool.submit(kustomize, binary, directory) for name, directory in directories.items()}
        return {name: future.result() for name, future in rendered.items()}


@pytest.fixture(scope="module")
def descriptor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The descriptor set the gateway image bakes in, generated from protos/ as its Dockerfile does."""
    path = tmp_path_factory.mktemp("descriptor") / "stackmesh.binpb"
    subprocess.run([sys.executable, str(CODEGEN), "--descriptor-only", "--descriptor-out", str(path)], check=True, timeout=120)
    return path


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


@pytest.fixture(scope="module")
def compose_distribution() -> StackConfig:
    return load_config(COMPOSE_DISTRIBUTION, env={})


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def pods(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The pod template of each Deployment and StatefulSet, by workload name."""
    return {obj["metadata"]["name"]: obj["spec"]["template"] for obj in objects if obj["kind"] in {"Deployment", "StatefulSet"}}


def container(objects: list[dict[str, Any]], workload: str) -> dict[str, Any]:
    """The workload's container of the same name."""
    return next(c for c in pods(objects)[workload]["spec"]["containers"] if c["name"] == workload)


def ports(spec: dict[str, Any], key: str = "containerPort") -> dict[str, int]:
    return {port["name"]: port[key] for port in spec.get("ports", [])}


def k8s_name(service: str) -> str:
    """A distribution service's Deployment and Service name: a DNS label, so no underscore."""
    return service.replace("_", "-")


def config_map(objects: list[dict[str, Any]], workload: str, volume: str) -> dict[str, Any]:
    """The ConfigMap a workload mounts as `volume` (its name carries kustomize's content hash)."""
    name = next(v["configMap"]["name"] for v in pods(objects)[workload]["spec"]["volumes"] if v["name"] == volume)
    return of_kind(objects, "ConfigMap")[name]


def distribution(objects: list[dict[str, Any]], directory: Path) -> StackConfig:
    """The distribution the pods read, loaded from the ConfigMap's files as mounted."""
    directory.mkdir()
    for key, text in config_map(objects, "inference", "distribution")["data"].items():
        (directory / key).write_text(text)
    return load_config(directory / "stackmesh.yaml", env={})


def secrets_referenced(objects: list[dict[str, Any]]) -> set[str]:
    """Every Secret a pod or a custom resource names."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in {"secretKeyRef", "secretRef", "passwordSecret"}:
                    names.add(value["name"])
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(objects)
    return names


def runbook_secrets() -> set[str]:
    """The Secrets the runbook's commands create, its `for service in ...` loops expanded."""
    names = set()
    for loop, name in re.findall(r"(?:for service in ([^;\n]+); do\n)?[^\n]*create secret generic ([\w$-]+)", RUNBOOK.read_text()):
        names |= {name.replace("$service", service) for service in loop.split()} if loop else {name}
    return names


@pytest.mark.parametrize("name", RENDERS)
def test_every_object_validates_against_kubernetes_1_32(renders: dict[str, list[dict[str, Any]]], name: str) -> None:
    """Strict schemas (an unknown field is an error); only the listed custom resources are left out."""
    errors, unchecked = [], set()
    for obj in renders[name]:
        kind = (obj["apiVersion"], obj["kind"])
        if kind in UNKNOWN_CRDS:
            unchecked.add(kind)
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {'.'.join(map(str, error.path))}: {error.message}")
    assert not errors, "\n".join(errors)
    assert unchecked == (UNKNOWN_CRDS if "cloudnative-pg" in name else set())


@pytest.mark.parametrize("name", RENDERS)
def test_everything_is_in_the_stackmesh_namespace(renders: dict[str, list[dict[str, Any]]], name: str) -> None:
    """What an overlay or a component adds too."""
    assert {obj["metadata"].get("namespace") for obj in renders[name] if obj["kind"] != "Namespace"} == {NAMESPACE}
    assert [obj["metadata"]["name"] for obj in renders[name] if obj["kind"] == "Namespace"] == [NAMESPACE]


@pytest.mark.parametrize("name", RENDERS)
def test_deployments_mirror_the_compose_containers(renders: dict[str, list[dict[str, Any]]], compose: dict[str, Any], name: str) -> None:
    """A Deployment per compose container (job workers included, were compose to run any apart)."""
    expected = {service for service in compose if service not in NOT_DEPLOYMENTS} | EXTRA_DEPLOYMENTS.get(name, set())
    assert set(of_kind(renders[name], "Deployment")) == expected


@pytest.mark.parametrize("name", RENDERS)
def test_each_service_is_probed_scraped_and_autoscaled(
    renders: dict[str, list[dict[str, Any]]], compose_distribution: StackConfig, name: str
) -> None:
    """Per distribution service: its module on the shared config, native gRPC probes on its port,
    the scrape annotations, a headless Service with `grpc` and `metrics` ports, and a CPU HPA
    that owns the replica count."""
    objects = renders[name]
    deployments, services, autoscalers = of_kind(objects, "Deployment"), of_kind(objects, "Service"), of_kind(objects, "HorizontalPodAutoscaler")
    for service, distributed in compose_distribution.services.items():
        workload = k8s_name(service)
        pod, main = pods(objects)[workload], container(objects, workload)
        assert main["command"] == ["python", "-m", f"stackmesh_{service}", "--config", CONFIG], workload
        assert ports(main) == {"grpc": distributed.port, "metrics": METRICS_PORT}, workload
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert main[probe]["grpc"] == {"port": distributed.port}, (workload, probe)
        assert pod["metadata"]["annotations"].items() >= SCRAPE.items(), workload
        assert "replicas" not in deployments[workload]["spec"], workload
        exposed = services[workload]["spec"]
        assert exposed["clusterIP"] == "None", workload
        assert exposed["selector"].items() <= pod["metadata"]["labels"].items(), workload
        assert ports(exposed, "port") == {"grpc": distributed.port, "metrics": METRICS_PORT}, workload
        assert {p["name"]: p["targetPort"] for p in exposed["ports"]} == {"grpc": "grpc", "metrics": "metrics"}, workload
        autoscaler = autoscalers[workload]
        assert autoscaler["apiVersion"] == "autoscaling/v2"
        assert autoscaler["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": workload}
        assert [m["resource"]["name"] for m in autoscaler["spec"]["metrics"] if m["type"] == "Resource"] == ["cpu"], workload


@pytest.mark.parametrize("name", RENDERS)
def test_every_pod_is_non_root_read_only_capability_free_and_sized(renders: dict[str, list[dict[str, Any]]], name: str) -> None:
    """The restricted Pod Security Standard the namespace enforces, and requests and limits for
    the scheduler and the autoscalers."""
    namespace = of_kind(renders[name], "Namespace")[NAMESPACE]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for workload, pod in pods(renders[name]).items():
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True, workload
        assert pod["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, workload
        for each in pod["spec"]["containers"]:
            where = f"{workload}/{each['name']}"
            assert each["securityContext"] == LOCKED_DOWN, where
            assert {"cpu", "memory"} <= each["resources"]["requests"].keys() & each["resources"]["limits"].keys(), where
    for account in of_kind(renders[name], "ServiceAccount").values():
        assert account["automountServiceAccountToken"] is False, account["metadata"]["name"]


@pytest.mark.parametrize("name", RENDERS)
def test_each_service_gets_only_its_own_secrets(
    renders: dict[str, list[dict[str, Any]]], compose: dict[str, Any], compose_distribution: StackConfig, name: str
) -> None:
    """As in compose: its Postgres role's password, the NATS password if it queues jobs, and
    libpq's connection settings; the gateway none."""
    objects = renders[name]
    nats_clients = {service for service, spec in compose.items() if "STACKMESH_NATS_PASSWORD" in spec.get("environment", {})}
    for service in compose_distribution.services:
        workload = k8s_name(service)
        main = container(objects, workload)
        expected = {"PGPASSWORD": {"name": f"stackmesh-{workload}-db", "key": "password"}}
        if workload in nats_clients:
            expected["STACKMESH_NATS_PASSWORD"] = {"name": "stackmesh-nats", "key": "password"}
        assert {env["name"]: env["valueFrom"]["secretKeyRef"] for env in main["env"]} == expected, workload
        assert main["envFrom"] == [{"secretRef": {"name": "stackmesh-postgres"}}], workload
    assert secrets_referenced([of_kind(objects, "Deployment")["gateway"]]) == set()


@pytest.mark.parametrize("name", RENDERS)
def test_no_secret_is_shipped_and_the_runbook_creates_each_one_used(renders: dict[str, list[dict[str, Any]]], name: str) -> None:
    """Secrets are referenced by name only; every name referenced has its `kubectl create secret`."""
    assert of_kind(renders[name], "Secret") == {}
    assert secrets_referenced(renders[name]) <= runbook_secrets()


@pytest.mark.parametrize("name", RENDERS)
def test_distribution_is_valid_and_names_the_kubernetes_services(
    renders: dict[str, list[dict[str, Any]]], compose_distribution: StackConfig, tmp_path: Path, name: str
) -> None:
    """Each service validates its whole section (providers, settings, resources) as at start;
    peers, NATS and metrics are where the manifests put them; Postgres comes from libpq's
    environment; base and cpu serve exactly what compose serves."""
    objects = renders[name]
    config = distribution(objects, tmp_path / "distribution")
    services = of_kind(objects, "Service")
    for service, distributed in config.services.items():
        _validate(importlib.import_module(f"stackmesh_{service}.app").SPEC, config)
        assert (distributed.host, distributed.listen_host) == (k8s_name(service), "0.0.0.0")
        assert ports(services[distributed.host]["spec"], "port")["grpc"] == distributed.port
        assert config.postgres_for(service).url == f"postgresql://stackmesh_{service}@/stackmesh"
    assert set(config.services) == set(compose_distribution.services)
    assert config.nats.url == f"nats://nats:{ports(services['nats']['spec'], 'port')['client']}"
    assert config.telemetry.metrics.port == METRICS_PORT
    assert str(config.state_dir) == "/var/lib/stackmesh"
    for workload, pod in pods(objects).items():
        mounts = {m["name"]: m["mountPath"] for c in pod["spec"]["containers"] for m in c.get("volumeMounts", [])}
        if "distribution" in mounts:
            assert mounts["distribution"] == CONFIG_DIR, workload
            assert config_map(objects, workload, "distribution") is config_map(objects, "inference", "distribution"), workload
    if name != "gpu":
        for service, distributed in config.services.items():
            assert distributed.providers == compose_distribution.services[service].providers, service
            assert distributed.resources == compose_distribution.services[service].resources, service
            assert distributed.settings == compose_distribution.services[service].settings, service


@pytest.mark.parametrize("name", RENDERS)
def test_gateway_routes_to_each_service_by_its_service_name(
    renders: dict[str, list[dict[str, Any]]], descriptor: Path, tmp_path: Path, name: str
) -> None:
    """The Envoy config the gateway renders at start from the mounted distribution: one cluster
    per service, at its headless Service's name and gRPC port; the listeners are what the
    gateway's Service, probes and scrape annotations target (Envoy's stats at :9464/metrics,
    through the loopback admin, which is no port of the pod)."""
    objects = renders[name]
    config = distribution(objects, tmp_path / "distribution")
    envoy = render(config, descriptor)
    services = of_kind(objects, "Service")
    clusters = {
        cluster["name"]: endpoint["endpoint"]["address"]["socket_address"]
        for cluster in envoy["static_resources"]["clusters"]
        for group in cluster["load_assignment"]["endpoints"]
        for endpoint in group["lb_endpoints"]
    }
    assert clusters.pop("envoy_admin") == {"address": "127.0.0.1", "port_value": config.gateway.admin_port}
    assert set(clusters) == set(config.services)
    for service, address in clusters.items():
        exposed = services[address["address"]]["spec"]
        assert address["address"] == k8s_name(service)
        assert ports(exposed, "port")["grpc"] == address["port_value"], service
        assert exposed["clusterIP"] == "None", service
    gateway = container(objects, "gateway")
    assert gateway["command"] == ["python", "-m", "stackmesh_gateway", "run", "--config", CONFIG]
    listeners = {listener["name"]: listener["address"]["socket_address"] for listener in envoy["static_resources"]["listeners"]}
    assert listeners == {
        "public": {"address": "0.0.0.0", "port_value": ports(gateway)["http"]},
        "metrics": {"address": "0.0.0.0", "port_value": ports(gateway)["metrics"]},
    }
    assert ports(gateway) == {"http": config.gateway.port, "metrics": METRICS_PORT} and config.gateway.metrics_port == METRICS_PORT
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert pods(objects)["gateway"]["metadata"]["annotations"] == SCRAPE
    assert services["gateway"]["spec"]["ports"] == [
        {"name": "http", "port": config.gateway.port, "targetPort": "http"},
        {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"},
    ]


def test_gpu_overlay_serves_chat_from_vllm_on_a_gpu(renders: dict[str, list[dict[str, Any]]], tmp_path: Path) -> None:
    """vLLM on a GPU node, ready on /health; inference's remote::vllm provider points at its
    Service and serves the model it loads, on top of everything the base serves."""
    objects = renders["gpu"]
    pod, vllm = pods(objects)["vllm"]["spec"], container(objects, "vllm")
    assert vllm["image"].startswith("vllm/vllm-openai:v")
    assert vllm["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert vllm["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert pod["enableServiceLinks"] is False
    served = next(arg.removeprefix("--model=") for arg in vllm["args"] if arg.startswith("--model="))
    port = ports(of_kind(objects, "Service")["vllm"]["spec"], "port")["http"]
    assert ports(vllm)["http"] == port

    inference = distribution(objects, tmp_path / "gpu").services["inference"]
    base = distribution(renders["base"], tmp_path / "base").services["inference"]
    [provider] = [p for p in inference.providers if p.provider_type == "remote::vllm"]
    assert provider.config["url"] == f"http://vllm:{port}/v1"
    assert inference.providers == [*base.providers, provider]
    on_vllm = [model for model in inference.resources["models"] if model["provider_id"] == provider.provider_id]
    assert [model["provider_model_id"] for model in on_vllm] == [served]
    assert inference.resources["models"] == [*base.resources["models"], *on_vllm]


def test_images_are_the_compose_images_with_one_tag_and_pinned(renders: dict[str, list[dict[str, Any]]], compose: dict[str, Any]) -> None:
    """Each stackmesh workload runs compose's image of it, all at one release tag; NATS is
    compose's, and no image floats on :latest."""
    tags = set()
    for objects in renders.values():
        for workload, pod in pods(objects).items():
            for each in pod["spec"]["containers"]:
                image, _, tag = each["image"].rpartition(":")
                assert image and tag and tag != "latest", each["image"]
                if workload in compose and "build" in compose[workload]:
                    assert image == compose[workload]["image"], workload
                    tags.add(tag)
        assert container(objects, "nats")["image"] == compose["nats"]["image"]
    assert len(tags) == 1, tags


@pytest.mark.parametrize("name", RENDERS)
def test_nats_is_a_three_node_jetstream_cluster(renders: dict[str, list[dict[str, Any]]], name: str) -> None:
    """Routes to every StatefulSet pod by its headless name, the file store on each pod's own
    claim, and the exporter's metrics annotated for scraping."""
    objects = renders[name]
    nats = of_kind(objects, "StatefulSet")["nats"]["spec"]
    headless = of_kind(objects, "Service")[nats["serviceName"]]["spec"]
    assert nats["replicas"] == 3
    assert (headless["clusterIP"], headless["publishNotReadyAddresses"]) == ("None", True)
    conf = config_map(objects, "nats", "config")["data"]["nats.conf"]
    cluster_port = ports(headless, "port")["cluster"]
    routes = re.findall(r"nats://(\S+):(\d+)", conf.split("cluster {", 1)[1])
    assert routes == [(f"nats-{i}.{nats['serviceName']}", str(cluster_port)) for i in range(nats["replicas"])]
    [claim] = nats["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container(objects, "nats")["volumeMounts"]}
    assert re.search(r"store_dir: (\S+)", conf).group(1) == mounts[claim["metadata"]["name"]]
    annotations = nats["template"]["metadata"]["annotations"]
    metrics = {p["name"]: p["containerPort"] for c in nats["template"]["spec"]["containers"] for p in c["ports"]}["metrics"]
    assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": str(metrics), "prometheus.io/path": "/metrics"}


def test_cloudnative_pg_keeps_a_role_per_service_with_its_secret(renders: dict[str, list[dict[str, Any]]]) -> None:
    """Its managed roles are service_roles.sql's, each with the Secret the service's PGPASSWORD
    comes from; the runbook creates the SQL ConfigMap and points PGHOST at the primary."""
    objects = renders["cpu+cloudnative-pg"]
    [cluster] = [obj for obj in objects if obj["kind"] == "Cluster"]
    roles = {role["name"]: role["passwordSecret"]["name"] for role in cluster["spec"]["managed"]["roles"]}
    default_services = re.search(r"'((?:\w+,)+\w+)'", SERVICE_ROLES_SQL.read_text()).group(1).split(",")
    assert set(roles) == {f"stackmesh_{service}" for service in default_services}
    for role, secret in roles.items():
        password = next(env for env in container(objects, k8s_name(role.removeprefix("stackmesh_")))["env"] if env["name"] == "PGPASSWORD")
        assert password["valueFrom"]["secretKeyRef"]["name"] == secret, role
    [sql] = cluster["spec"]["bootstrap"]["initdb"]["postInitApplicationSQLRefs"]["configMapRefs"]
    runbook = RUNBOOK.read_text()
    assert f"create configmap {sql['name']} --from-file={sql['key']}=deploy/launcher/stackmesh_launcher/service_roles.sql" in runbook
    assert f"--from-literal=PGHOST={cluster['metadata']['name']}-rw" in runbook


def test_a_missing_kubectl_fails_the_tests(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Not a skip: manifests nobody rendered must not pass."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match="kubectl is not on PATH"):
        kubectl()
