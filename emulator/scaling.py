"""The `scale` subresource of Deployments, ReplicaSets and StatefulSets.

GET returns an `autoscaling/v1` Scale object; PUT and PATCH change
`spec.replicas` of the parent, which bumps its generation like any spec change.
The new replica count is owned like a main-resource update, so a later apply of
`spec.replicas` by another manager conflicts with the scaling manager.
"""

from __future__ import annotations

import copy
from typing import Any

from emulator import applying, errors, patching
from emulator.routing import require_object
from emulator.selectors import format_structured
from emulator.writes import JSON_PATCH, WriteRequest, WriteResult, Writes

SCALABLE_KINDS = frozenset({"Deployment", "ReplicaSet", "StatefulSet"})


def scale(writes: Writes, req: WriteRequest, method: str) -> WriteResult:
    """Read or write the `scale` subresource of a Deployment, ReplicaSet or StatefulSet."""
    if req.storage.kind not in SCALABLE_KINDS:
        raise errors.resource_not_found()
    assert req.name is not None
    old = writes.existing(req, req.name)
    current = scale_of(old)
    if method == "GET":
        return WriteResult(200, current, False, "get")
    if method == "PUT":
        requested_scale = require_object(req.body)
    elif req.content_type == JSON_PATCH:
        requested_scale = patching.json_patch(current, req.body)
    else:
        requested_scale = patching.merge_patch(current, require_object(req.body))
    replicas = (requested_scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or replicas < 0:
        raise errors.invalid(
            "Scale",
            "autoscaling",
            req.name,
            [
                errors.FieldError.invalid(
                    "spec.replicas", replicas, "must be greater than or equal to 0"
                )
            ],
        )
    new = copy.deepcopy(old)
    new.setdefault("spec", {})["replicas"] = replicas

    # The new replica count is owned like a main-resource update, so that a
    # later apply of spec.replicas conflicts with the scaling manager.
    applying.record_update(
        old,
        new,
        manager=req.field_manager,
        api_version=req.rt.api_version,
        subresource=None,
        has_status=req.storage.has_status,
    )
    stored, changed = writes.cluster.save(req.storage, new, old, dry_run=req.dry_run)
    return WriteResult(
        200, scale_of(stored), changed, "scale", None if req.dry_run else stored
    )


def scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    """Build the `autoscaling/v1` Scale view of a scalable object."""
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            key: meta[key]
            for key in (
                "name",
                "namespace",
                "uid",
                "resourceVersion",
                "creationTimestamp",
            )
            if key in meta
        },
        "spec": {"replicas": spec.get("replicas", 1)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": format_structured(spec.get("selector")),
        },
    }
