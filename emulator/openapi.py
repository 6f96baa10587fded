"""A minimal OpenAPI v3 description, enough for kubectl to validate on the server.

kubectl `apply` and `create` validate objects before sending them. They first
read `/openapi/v3/<group-version>` to learn whether the PATCH operation of the
kind accepts the `fieldValidation` query parameter. If it does, kubectl leaves
validation to the server instead of downloading full schemas. The documents here describe only
that: one PATCH operation per resource, with its parameters and no schemas. The
emulator itself does not check unknown fields, whatever `fieldValidation` says.
"""

from __future__ import annotations

import hashlib
from typing import Any

from emulator.discovery import GIT_VERSION
from emulator.errors import resource_not_found
from emulator.resources import ResourceRegistry

PATCH_PARAMETERS = ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")


def _group_version_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _document(registry: ResourceRegistry, group: str, version: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    prefix = "/" + _group_version_path(group, version)
    for rt in registry.in_group_version(group, version):
        scope = "/namespaces/{namespace}" if rt.namespaced else ""
        patch = {
            "operationId": f"patch{rt.kind}",
            "parameters": [
                {"name": name, "in": "query", "schema": {"type": "string"}}
                for name in PATCH_PARAMETERS
            ],
            "responses": {"200": {"description": "OK"}},
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {
                "group": group,
                "version": version,
                "kind": rt.kind,
            },
        }
        paths[f"{prefix}{scope}/{rt.plural}/{{name}}"] = {"patch": patch}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes API emulator", "version": GIT_VERSION},
        "paths": paths,
        "components": {"schemas": {}},
    }


def root(registry: ResourceRegistry) -> dict[str, Any]:
    """Return `/openapi/v3`: the URL of each group-version document."""
    paths = {}
    for group, versions in registry.group_versions().items():
        for version in versions:
            name = _group_version_path(group, version)
            digest = hashlib.sha256(
                repr(_document(registry, group, version)).encode()
            ).hexdigest()[:16]
            paths[name] = {"serverRelativeURL": f"/openapi/v3/{name}?hash={digest}"}
    return {"paths": paths}


def group_version(registry: ResourceRegistry, path: str) -> dict[str, Any]:
    """Return the document for a path such as `/openapi/v3/apis/apps/v1`."""
    parts = path.removeprefix("/openapi/v3/").strip("/").split("/")
    if len(parts) == 2 and parts[0] == "api":
        group, version = "", parts[1]
    elif len(parts) == 3 and parts[0] == "apis":
        group, version = parts[1], parts[2]
    else:
        raise resource_not_found()
    if not registry.in_group_version(group, version):
        raise resource_not_found()
    return _document(registry, group, version)
