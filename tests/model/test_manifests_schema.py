"""Every manifest oamflow renders is valid against the Kubernetes 1.30 OpenAPI schema.

The requests are the examples, tests/data/valid/everything.yaml (every component
type and every trait) and any other request under tests/data that loads. The
schemas come with the `kubernetes_validate` package, so this runs offline. Strict
validation also rejects fields that the schema does not define. A custom resource
has no schema there: it is skipped only when a CustomResourceDefinition of the same
request defines its kind.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

import oam
from oam.model import Component, ComponentType, Probe, Storage, Traits

REPOSITORY = Path(__file__).resolve().parents[2]
DATA = REPOSITORY / "tests" / "data"
EVERYTHING = DATA / "valid" / "everything.yaml"
KUBERNETES_VERSION = "1.30.0"

# Kinds that everything.yaml must render: every kind the renderer produces, plus
# the CustomResourceDefinition and a built-in kind given through k8s-objects.
EVERYTHING_KINDS = {
    "ClusterRole",
    "ClusterRoleBinding",
    "ConfigMap",
    "CustomResourceDefinition",
    "Deployment",
    "Ingress",
    "Job",
    "PersistentVolumeClaim",
    "PodDisruptionBudget",
    "Role",
    "RoleBinding",
    "Secret",
    "Service",
    "ServiceAccount",
    "StatefulSet",
    "Widget",
}


@dataclass(frozen=True)
class Rendered:
    """One rendered manifest, its request file and the custom kinds that request defines."""

    request: str
    job_id: str
    manifest: dict[str, Any]
    custom_kinds: frozenset[tuple[str, str]]


def request_files() -> list[Path]:
    """Return the example requests and every request file under tests/data except the bad-input corpus."""
    examples = sorted((REPOSITORY / "examples").glob("*.*"))
    data = sorted(
        path
        for path in DATA.rglob("*")
        if path.suffix in (".json", ".yaml", ".yml")
        and "bad" not in path.relative_to(DATA).parts
    )
    return examples + data


def must_load(path: Path) -> bool:
    """Return True for examples and tests/data/valid. Other files under tests/data may be invalid on purpose."""
    return path.parent.name in ("examples", "valid")


def custom_kinds(manifests: list[dict[str, Any]]) -> frozenset[tuple[str, str]]:
    """Return (group, kind) of every custom resource that a CRD among `manifests` defines."""
    kinds = set()
    for manifest in manifests:
        if manifest.get("kind") == "CustomResourceDefinition":
            spec = manifest["spec"]
            kinds.add((spec["group"], spec["names"]["kind"]))
    return frozenset(kinds)


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def render(path: Path) -> list[Rendered]:
    loaded = oam.load_application(path.read_bytes(), str(path))
    manifests = oam.build_plan(loaded.application).manifests
    defined = custom_kinds(list(manifests.values()))
    name = str(path.relative_to(REPOSITORY))
    return [
        Rendered(name, job_id, manifest, defined)
        for job_id, manifest in manifests.items()
    ]


def collect() -> tuple[list[Rendered], list[str]]:
    """Render every loadable request, and return the messages of requests that must load but do not."""
    rendered: list[Rendered] = []
    broken: list[str] = []
    for path in request_files():
        try:
            rendered += render(path)
        except oam.InvalidRequest as error:
            if must_load(path):
                broken.append(str(error))
    return rendered, broken


RENDERED, BROKEN = collect()


def test_examples_and_valid_requests_load() -> None:
    assert BROKEN == []


def test_examples_and_everything_request_are_collected() -> None:
    requests = {item.request for item in RENDERED}
    assert "tests/data/valid/everything.yaml" in requests
    assert {path.name for path in (REPOSITORY / "examples").glob("*.*")} <= {
        Path(name).name for name in requests
    }


@pytest.mark.parametrize(
    "item", RENDERED, ids=[f"{item.request}:{item.job_id}" for item in RENDERED]
)
def test_manifest_is_valid_against_kubernetes_schema(item: Rendered) -> None:
    manifest = item.manifest
    defined_here = (
        group_of(manifest["apiVersion"]),
        manifest["kind"],
    ) in item.custom_kinds
    try:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError as error:
        if defined_here:
            pytest.skip(
                f"custom resource {manifest['kind']} has no schema in kubernetes_validate"
            )
        pytest.fail(error.message)
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(part) for part in error.path)
        pytest.fail(f"{item.job_id} is invalid at {where or '(root)'}: {error.message}")
    assert not defined_here, (
        f"{manifest['kind']} is defined by a CRD here but also has a built-in schema"
    )


def test_validator_rejects_an_unknown_field() -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"mode": "production"},
        "dataa": {},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_validator_rejects_a_wrong_type() -> None:
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": "two",
            "selector": {},
            "template": {"spec": {"containers": []}},
        },
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


# --- everything.yaml covers every component type and every trait ----------------------


def everything_components() -> list[Component]:
    return list(oam.load_application(EVERYTHING.read_bytes()).application.components)


def test_everything_request_renders_every_kind() -> None:
    kinds = {
        item.manifest["kind"]
        for item in RENDERED
        if item.request == "tests/data/valid/everything.yaml"
    }
    assert kinds == EVERYTHING_KINDS


def test_everything_request_uses_every_component_type() -> None:
    types = {component.type for component in everything_components()}
    assert types == set(typing.get_args(ComponentType))


@pytest.mark.parametrize("trait", sorted(Traits.model_fields))
def test_everything_request_uses_trait(trait: str) -> None:
    assert any(
        getattr(component.traits, trait) for component in everything_components()
    )


def test_everything_request_uses_every_storage_type() -> None:
    used = {
        storage.type
        for component in everything_components()
        for storage in component.traits.storage
    }
    assert used == set(typing.get_args(Storage.model_fields["type"].annotation))


def test_everything_request_uses_every_probe_type_and_handler() -> None:
    probes = [
        probe
        for component in everything_components()
        for probe in component.traits.probes
    ]
    assert {probe.type for probe in probes} == set(
        typing.get_args(Probe.model_fields["type"].annotation)
    )
    assert any(probe.exec for probe in probes)
    assert any(probe.http_get for probe in probes)
    assert any(probe.tcp_socket for probe in probes)


def test_everything_request_uses_gpu_and_both_rbac_scopes() -> None:
    components = everything_components()
    assert any(
        component.traits.resources and component.traits.resources.gpu
        for component in components
    )
    scopes = {
        entry.cluster_scope
        for component in components
        for entry in component.traits.rbac
    }
    assert scopes == {False, True}


def test_everything_request_uses_every_value_source() -> None:
    sources = set()
    for component in everything_components():
        for variable in component.traits.envs:
            for source in ("config", "secret", "field"):
                if getattr(variable.value_from, source) is not None:
                    sources.add(source)
    assert sources == {"config", "secret", "field"}


def test_everything_request_has_an_ingress_with_tls() -> None:
    entries = [
        entry
        for component in everything_components()
        for entry in component.traits.ingress
    ]
    assert any(entry.tls_secret_name for entry in entries)
