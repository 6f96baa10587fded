"""API discovery documents (`/api`, `/apis`, `/api/v1`, `/apis/GROUP/VERSION`) and `/version`.

Discovery is built from the resource registry on each request, so resources of a
CustomResourceDefinition appear as soon as the CRD is established. Only the
legacy (unaggregated) discovery format is served; kubectl and client-go fall
back to it when the response is plain `application/json`.
"""

from __future__ import annotations

from typing import Any

from emulator.errors import resource_not_found
from emulator.resources import ResourceRegistry

KUBERNETES_MAJOR = "1"
KUBERNETES_MINOR = "31"
GIT_VERSION = f"v{KUBERNETES_MAJOR}.{KUBERNETES_MINOR}.0-oamflow-emulator"


def server_version() -> dict[str, Any]:
    return {
        "major": KUBERNETES_MAJOR,
        "minor": KUBERNETES_MINOR,
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2024-08-13T00:00:00Z",
        "goVersion": "go1.22.5",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def core_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}
        ],
    }


def _group_entry(group: str, versions: list[str]) -> dict[str, Any]:
    entries = [
        {"groupVersion": f"{group}/{version}", "version": version}
        for version in versions
    ]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def group_list(registry: ResourceRegistry) -> dict[str, Any]:
    groups = [
        _group_entry(group, versions)
        for group, versions in registry.group_versions().items()
        if group
    ]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(registry: ResourceRegistry, name: str) -> dict[str, Any]:
    versions = registry.group_versions().get(name)
    if not name or not versions:
        raise resource_not_found()
    return dict(_group_entry(name, versions), kind="APIGroup", apiVersion="v1")


def resource_list(
    registry: ResourceRegistry, group_name: str, version: str
) -> dict[str, Any]:
    types = registry.in_group_version(group_name, version)
    if not types:
        raise resource_not_found()
    resources: list[dict[str, Any]] = []
    for rt in types:
        resources.extend(rt.describe())
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group_name}/{version}" if group_name else version,
        "resources": resources,
    }


def root_paths(registry: ResourceRegistry) -> dict[str, Any]:
    paths = {"/api", "/api/v1", "/apis", "/version", "/healthz", "/livez", "/readyz"}
    for group_name, versions in registry.group_versions().items():
        if not group_name:
            continue
        paths.add(f"/apis/{group_name}")
        for version in versions:
            paths.add(f"/apis/{group_name}/{version}")
    return {"paths": sorted(paths)}
