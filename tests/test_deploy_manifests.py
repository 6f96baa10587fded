"""The deployment files: deploy/ (Kubernetes), docker-compose.yml and the Dockerfile.

Every manifest in deploy/ must be valid against the Kubernetes 1.30 OpenAPI
schema. The schemas ship with `kubernetes_validate`, so this runs offline.

The worker's ClusterRole must grant exactly the permissions of the worker's
requests. These are server-side apply, reads and cleanup on every kind that
oamflow renders, the reads of its preflight and readiness checks, and API
discovery. The kinds come from rendering requests, not from a list here.

docker-compose.yml is checked as YAML, because `docker compose config` needs
the compose plugin and this test must not.
"""

from __future__ import annotations

import ast
import re
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes.client import ApiClient, Configuration

import oam
from activities import objects
from activities.kube import KubeClient, Resource
from oam.kinds import is_namespaced
from oam.model import ComponentType
from workflows.types import (
    ATTRIBUTE_APPLICATION,
    ATTRIBUTE_NAMESPACE,
    ATTRIBUTE_PROJECT,
    TASK_QUEUE,
)

REPOSITORY = Path(__file__).resolve().parents[1]
DEPLOY = REPOSITORY / "deploy"
COMPOSE = REPOSITORY / "docker-compose.yml"
DOCKERFILE = REPOSITORY / "Dockerfile"
KUBERNETES_VERSION = "1.30.0"
WORKER_NAMESPACE = "oamflow-system"
WORKER_NAME = "oamflow-worker"
REQUEST_SUFFIXES = (".json", ".yaml", ".yml")

# Verbs the worker needs on each kind it applies. Kubernetes authorizes
# server-side apply as `create` for a new object and as `patch` for an existing
# one. `get` serves drift checks and readiness polls, and `delete` serves
# cleanup and the recreation of a changed Job.
APPLY_VERBS = frozenset({"get", "create", "patch", "delete"})

# Reads outside the applied kinds, by the Resource constants that
# activities/objects.py uses for them.
CHECK_VERBS = {
    objects.NAMESPACES: frozenset({"get"}),
    objects.PODS: frozenset({"list"}),
    objects.STORAGE_CLASSES: frozenset({"get", "list"}),
}

# Paths of KubeClient's non-resource requests: GET /version, and API discovery
# on /api/v1 and /apis/GROUP/VERSION.
DISCOVERY_URLS = frozenset({"/version", "/api/v1", "/apis/*"})

# HTTP methods whose RBAC verbs APPLY_VERBS and CHECK_VERBS account for.
KNOWN_METHODS = frozenset({"GET", "PATCH", "DELETE"})

# A request for the rendering: one component of each type, and every trait that
# adds objects of its own (persistent storage, ingress, namespaced and
# cluster-wide rbac). k8s-objects carries a CustomResourceDefinition, the one
# kind given through k8s-objects that the ClusterRole covers.
COVERAGE_REQUEST = """
name: rbac-coverage
namespace: shop
component:
  - name: settings
    type: config
    properties:
      conf:
        LOG_LEVEL: info
  - name: credentials
    type: secret
    properties:
      secret:
        token: placeholder
  - name: widgets
    type: k8s-objects
    properties:
      objects:
        - apiVersion: apiextensions.k8s.io/v1
          kind: CustomResourceDefinition
          metadata:
            name: widgets.example.com
          spec:
            group: example.com
            scope: Namespaced
            names:
              plural: widgets
              singular: widget
              kind: Widget
            versions:
              - name: v1
                served: true
                storage: true
                schema:
                  openAPIV3Schema:
                    type: object
  - name: db
    type: store
    image: postgres:16
    properties:
      ports:
        - port: 5432
    traits:
      storage:
        - name: data
          type: persistent
          mountPath: /var/lib/postgresql/data
  - name: web
    type: webservice
    image: nginx:1.27
    properties:
      ports:
        - port: 80
    traits:
      storage:
        - name: uploads
          type: persistent
          mountPath: /srv/uploads
      ingress:
        - host: shop.example.com
      rbac:
        - rules:
            - apiGroups: [""]
              resources: [configmaps]
              verbs: [get]
        - clusterScope: true
          rules:
            - apiGroups: [""]
              resources: [nodes]
              verbs: [get]
  - name: migrate
    type: job
    image: busybox:1.36
"""


# --- loading --------------------------------------------------------------------------


def load_yaml(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [document for document in yaml.safe_load_all(handle) if document]


def manifest_files() -> list[Path]:
    return sorted(
        path
        for path in DEPLOY.iterdir()
        if path.suffix in (".yaml", ".yml") and path.stem != "kustomization"
    )


def deploy_manifests() -> list[tuple[str, dict[str, Any]]]:
    """Return (file name, object) for every Kubernetes object under deploy/."""
    return [
        (path.name, document)
        for path in manifest_files()
        for document in load_yaml(path)
    ]


MANIFESTS = deploy_manifests()


def find(kind: str, name: str = WORKER_NAME) -> dict[str, Any]:
    found = [
        manifest
        for _, manifest in MANIFESTS
        if manifest["kind"] == kind and manifest["metadata"]["name"] == name
    ]
    assert len(found) == 1, f"expected one {kind} {name} in deploy/, found {len(found)}"
    return found[0]


def grace_seconds(arguments: list[str]) -> float:
    """Return the value of worker.py's --grace in an argument list (10 s by default)."""
    for index, argument in enumerate(arguments):
        if argument == "--grace":
            return float(arguments[index + 1])
        if argument.startswith("--grace="):
            return float(argument.partition("=")[2])
    return 10.0


# --- deploy/: schema and kustomization ------------------------------------------------


def test_deploy_directory_has_manifests() -> None:
    kinds = {manifest["kind"] for _, manifest in MANIFESTS}
    expected = ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding")
    for kind in expected + ("ConfigMap", "Deployment"):
        assert kind in kinds


@pytest.mark.parametrize(
    "manifest",
    [manifest for _, manifest in MANIFESTS],
    ids=[f"{name}:{manifest['kind']}" for name, manifest in MANIFESTS],
)
def test_manifest_matches_kubernetes_schema(manifest: dict[str, Any]) -> None:
    try:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(part) for part in error.path) or "(root)"
        pytest.fail(f"{manifest['kind']} is invalid at {where}: {error.message}")
    except kubernetes_validate.SchemaNotFoundError as error:
        pytest.fail(error.message)


def test_kustomization_lists_every_manifest() -> None:
    (kustomization,) = load_yaml(DEPLOY / "kustomization.yaml")
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed)), f"duplicate resources: {listed}"
    assert set(listed) == {path.name for path in manifest_files()}


def test_namespaced_objects_in_worker_namespace() -> None:
    for name, manifest in MANIFESTS:
        if is_namespaced(manifest["kind"]):
            namespace = manifest["metadata"].get("namespace")
            assert namespace == WORKER_NAMESPACE, f"{name}: {manifest['kind']}"


# --- deploy/: the worker Deployment ---------------------------------------------------


DEPLOYMENT = find("Deployment")
POD = DEPLOYMENT["spec"]["template"]["spec"]
(CONTAINER,) = POD["containers"]


def test_deployment_runs_two_replicas() -> None:
    assert DEPLOYMENT["spec"]["replicas"] == 2


def test_deployment_grace_exceeds_worker_grace() -> None:
    grace = grace_seconds(CONTAINER.get("args", []))
    assert POD["terminationGracePeriodSeconds"] > grace


def test_deployment_uses_worker_service_account() -> None:
    assert POD["serviceAccountName"] == find("ServiceAccount")["metadata"]["name"]
    assert POD.get("automountServiceAccountToken", True)


def test_deployment_runs_as_non_root() -> None:
    assert POD["securityContext"]["runAsNonRoot"] is True
    assert POD["securityContext"]["runAsUser"] != 0
    assert CONTAINER["securityContext"]["allowPrivilegeEscalation"] is False


def test_deployment_sets_resources() -> None:
    resources = CONTAINER["resources"]
    assert "cpu" in resources["requests"]
    assert "memory" in resources["requests"]
    assert "memory" in resources["limits"]


def test_deployment_temporal_settings_from_configmap() -> None:
    (source,) = CONTAINER["envFrom"]
    config = find("ConfigMap", source["configMapRef"]["name"])
    assert config["data"]["TEMPORAL_ADDRESS"].endswith(":7233")
    assert config["data"]["OAMFLOW_TASK_QUEUE"] == TASK_QUEUE


def test_deployment_codec_key_is_optional() -> None:
    variables = {variable["name"]: variable for variable in CONTAINER.get("env", [])}
    reference = variables["OAMFLOW_CODEC_KEY"]["valueFrom"]["secretKeyRef"]
    assert reference["optional"] is True


# --- deploy/: RBAC ----------------------------------------------------------------------


class OfflineKubeClient(KubeClient):
    """A KubeClient whose API discovery fails, so `resolve` uses only the built-in table."""

    def _discover(self, api_version: str) -> dict[str, Resource]:
        raise AssertionError(
            f"{api_version} is missing from the built-in resource table in"
            " activities/kube.py, which this test needs to map kinds to resources"
        )


def group_of(resource: Resource) -> str:
    return resource.group_version.rpartition("/")[0]


def rendered_applications() -> Iterator[oam.Application]:
    """Yield the coverage request, the examples and the requests under tests/data/valid."""
    yield oam.load_application(COVERAGE_REQUEST, "coverage request").application
    for folder in (REPOSITORY / "examples", REPOSITORY / "tests" / "data" / "valid"):
        for path in sorted(folder.glob("*")):
            if path.suffix in REQUEST_SUFFIXES:
                yield oam.load_application(path.read_bytes(), str(path)).application


def rendered_kinds() -> set[tuple[str, str]]:
    """Return (apiVersion, kind) of every object oamflow renders itself.

    Objects of a k8s-objects component are left out, because operators grant
    their kinds, except CustomResourceDefinitions, which the ClusterRole covers.
    """
    kinds = set()
    for application in rendered_applications():
        for component in application.components:
            for manifest in oam.render_component(application, component):
                kind = manifest["kind"]
                if (
                    component.type == "k8s-objects"
                    and kind != "CustomResourceDefinition"
                ):
                    continue
                kinds.add((manifest["apiVersion"], kind))
    return kinds


def required_permissions() -> set[tuple[str, str, str]]:
    """Return (API group, resource, verb) for every request the worker makes."""
    kube = OfflineKubeClient(ApiClient(Configuration()))
    required = set()
    for api_version, kind in rendered_kinds():
        resource = kube.resolve(api_version, kind)
        required |= {
            (group_of(resource), resource.plural, verb) for verb in APPLY_VERBS
        }
    for resource, verbs in CHECK_VERBS.items():
        required |= {(group_of(resource), resource.plural, verb) for verb in verbs}
    return required


def granted_permissions(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule["verbs"]
    }


CLUSTER_ROLE = find("ClusterRole")
RULES = CLUSTER_ROLE["rules"]


def test_coverage_request_uses_every_component_type() -> None:
    application = oam.load_application(COVERAGE_REQUEST).application
    used = {component.type for component in application.components}
    assert used == set(typing.get_args(ComponentType))


def test_rendered_kinds_include_core_kinds() -> None:
    kinds = {kind for _, kind in rendered_kinds()}
    expected = ("Deployment", "StatefulSet", "Job", "Service", "Ingress")
    for kind in expected + ("ClusterRole", "RoleBinding", "CustomResourceDefinition"):
        assert kind in kinds


def test_cluster_role_covers_worker_requests() -> None:
    missing = required_permissions() - granted_permissions(RULES)
    assert not missing, f"ClusterRole lacks (group, resource, verb): {sorted(missing)}"


def test_cluster_role_grants_nothing_else() -> None:
    extra = granted_permissions(RULES) - required_permissions()
    assert not extra, (
        f"ClusterRole grants unused (group, resource, verb): {sorted(extra)}"
    )


def test_cluster_role_has_no_wildcards() -> None:
    for rule in RULES:
        for field in ("apiGroups", "resources", "resourceNames", "verbs"):
            values = rule.get(field, [])
            assert not any("*" in value for value in values), f"{field}: {values}"


def test_cluster_role_allows_discovery_reads_only() -> None:
    url_rules = [rule for rule in RULES if "nonResourceURLs" in rule]
    assert len(url_rules) == 1
    assert set(url_rules[0]["nonResourceURLs"]) == DISCOVERY_URLS
    assert url_rules[0]["verbs"] == ["get"]


def test_worker_sends_only_known_http_methods() -> None:
    """A new method (PUT, POST) would need a verb that the ClusterRole lacks."""
    tree = ast.parse(
        (REPOSITORY / "activities" / "kube.py").read_text(encoding="utf-8")
    )
    methods = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "request"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }
    assert methods
    assert methods <= KNOWN_METHODS


def test_binding_targets_worker_account() -> None:
    binding = find("ClusterRoleBinding")
    account = find("ServiceAccount")
    assert binding["roleRef"]["kind"] == "ClusterRole"
    assert binding["roleRef"]["name"] == CLUSTER_ROLE["metadata"]["name"]
    subject = {
        "kind": "ServiceAccount",
        "name": account["metadata"]["name"],
        "namespace": account["metadata"]["namespace"],
    }
    assert binding["subjects"] == [subject]


# --- docker-compose.yml ---------------------------------------------------------------


(COMPOSE_FILE,) = load_yaml(COMPOSE)
SERVICES = COMPOSE_FILE["services"]
EXPECTED_SERVICES = {
    "postgresql",
    "temporal-schema",
    "temporal",
    "temporal-namespace",
    "temporal-ui",
    "worker",
}


def dependencies(service: str) -> dict[str, str]:
    """Return {service: condition} of a service's depends_on, short or long form."""
    depends_on = SERVICES[service].get("depends_on", {})
    if isinstance(depends_on, list):
        return {name: "service_started" for name in depends_on}
    return {name: entry["condition"] for name, entry in depends_on.items()}


def script_of(service: str) -> str:
    command = SERVICES[service]["command"]
    return command if isinstance(command, str) else "\n".join(command)


def image_tag(image: str) -> str | None:
    """Return the tag of an image reference, or None when it has none."""
    name = image.partition("@")[0]
    last = name.rpartition("/")[2]
    return last.partition(":")[2] or None


def test_compose_defines_expected_services() -> None:
    for service in sorted(EXPECTED_SERVICES):
        assert service in SERVICES


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_compose_image_has_explicit_tag(service: str) -> None:
    image = SERVICES[service]["image"]
    tag = image_tag(image)
    assert tag is not None, f"{service}: {image} has no tag"
    assert tag != "latest", f"{service}: {image}"


def test_compose_avoids_auto_setup_image() -> None:
    for name, service in SERVICES.items():
        image = service.get("image", "")
        assert not image.startswith("temporalio/auto-setup"), name


def test_compose_temporal_images_share_version() -> None:
    assert image_tag(SERVICES["temporal"]["image"]) == image_tag(
        SERVICES["temporal-schema"]["image"]
    )
    assert (
        SERVICES["temporal-namespace"]["image"] == SERVICES["temporal-schema"]["image"]
    )


def test_compose_postgresql_has_healthcheck() -> None:
    assert SERVICES["postgresql"]["image"].startswith("postgres:16")
    assert SERVICES["postgresql"]["healthcheck"]["test"]


def test_compose_startup_order() -> None:
    assert dependencies("temporal-schema")["postgresql"] == "service_healthy"
    assert (
        dependencies("temporal")["temporal-schema"] == "service_completed_successfully"
    )
    assert "temporal" in dependencies("temporal-namespace")
    assert "temporal" in dependencies("worker")
    assert (
        dependencies("worker")["temporal-namespace"] == "service_completed_successfully"
    )


def test_compose_schema_job_covers_both_databases() -> None:
    script = script_of("temporal-schema")
    assert "temporal-sql-tool" in script
    assert "postgresql/v12/temporal" in script
    assert "postgresql/v12/visibility" in script


def test_compose_temporal_uses_postgres12() -> None:
    environment = SERVICES["temporal"]["environment"]
    assert environment["DB"] == "postgres12"
    assert environment["POSTGRES_SEEDS"] == "postgresql"


def test_namespace_job_registers_search_attributes() -> None:
    script = script_of("temporal-namespace")
    assert "temporal operator namespace create" in script
    assert "--type Keyword" in script
    for attribute in (ATTRIBUTE_APPLICATION, ATTRIBUTE_NAMESPACE, ATTRIBUTE_PROJECT):
        assert attribute in script


def test_compose_ui_publishes_port_8080() -> None:
    ports = [str(port) for port in SERVICES["temporal-ui"]["ports"]]
    assert any(re.fullmatch(r"(?:[\d.]+:)?8080:8080", port) for port in ports), ports


def test_compose_worker_connects_to_temporal() -> None:
    worker = SERVICES["worker"]
    assert "build" in worker
    assert worker["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_compose_kubeconfig_mount_is_read_only() -> None:
    worker = SERVICES["worker"]
    (kubeconfig,) = [
        volume
        for volume in worker["volumes"]
        if volume["target"] == worker["environment"]["KUBECONFIG"]
    ]
    assert kubeconfig["read_only"] is True
    assert kubeconfig["source"].startswith("${KUBECONFIG:-")


def test_compose_codec_key_is_optional() -> None:
    worker = SERVICES["worker"]
    (secret,) = worker["secrets"]
    target = f"/run/secrets/{secret['target']}"
    assert worker["environment"]["OAMFLOW_CODEC_KEY_FILE"] == target
    assert COMPOSE_FILE["secrets"][secret["source"]]["file"].endswith(":-/dev/null}")


def test_compose_worker_stop_exceeds_grace() -> None:
    worker = SERVICES["worker"]
    stop_seconds = int(worker["stop_grace_period"].removesuffix("s"))
    assert stop_seconds > grace_seconds(worker["command"])


# --- Dockerfile -------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """Return (instruction, arguments) pairs, with continuation lines joined."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            instruction, _, arguments = stripped.partition(" ")
            instructions.append((instruction.upper(), arguments.strip()))
    return instructions


def test_dockerfile_builds_worker_image() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = " ".join(
        arguments for instruction, arguments in instructions if instruction == "RUN"
    )
    assert "pip install ." in runs
    assert ("ENTRYPOINT", '["python", "worker.py"]') in instructions


def test_dockerfile_runs_as_non_root() -> None:
    users = [
        arguments
        for instruction, arguments in dockerfile_instructions()
        if instruction == "USER"
    ]
    assert users
    assert users[-1].partition(":")[0] not in ("root", "0")
