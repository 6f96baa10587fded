"""DELETE of one object: options, preconditions, propagation and the response body.

For most kinds the response to a completed deletion is a `Status` of `Success`.
The kinds in `RETURNS_DELETED_OBJECT` return the deleted object instead, as
kube-apiserver does.
An object that finalizers keep is returned with its `deletionTimestamp`.
"""

from __future__ import annotations

import copy

from emulator import errors
from emulator.cluster import PROPAGATION_POLICIES, PROTECTED_NAMESPACES
from emulator.errors import ApiError
from emulator.store import key_of
from emulator.writes import WriteRequest, WriteResult, Writes

# Kinds whose DELETE returns the deleted object; the others return a Status.
RETURNS_DELETED_OBJECT = frozenset(
    {
        "Pod",
        "Service",
        "PersistentVolumeClaim",
        "PersistentVolume",
        "PodTemplate",
        "ResourceQuota",
        "ServiceAccount",
        "Namespace",
    }
)


def delete(writes: Writes, req: WriteRequest) -> WriteResult:
    assert req.name is not None
    old = writes.existing(req, req.name)
    options = req.body if isinstance(req.body, dict) else {}
    policy = options.get("propagationPolicy") or req.params.get("propagationPolicy")
    orphan = options.get("orphanDependents", req.params.get("orphanDependents"))
    if policy is None:
        policy = "Orphan" if orphan in (True, "true") else "Background"
    if policy not in PROPAGATION_POLICIES:
        raise errors.invalid(
            "DeleteOptions",
            "",
            "",
            [
                errors.FieldError.not_supported(
                    "propagationPolicy", policy, list(PROPAGATION_POLICIES)
                )
            ],
        )
    if "All" in (options.get("dryRun") or []):
        req.params = dict(req.params, dryRun="All")
    preconditions = options.get("preconditions") or {}
    if preconditions.get("uid") not in (None, old["metadata"]["uid"]):
        raise ApiError(
            409,
            f"Precondition failed: UID in precondition: {preconditions['uid']}, "
            f"UID in object meta: {old['metadata']['uid']}",
        )
    if preconditions.get("resourceVersion") not in (
        None,
        old["metadata"]["resourceVersion"],
    ):
        raise errors.stale_resource_version(req.rt.plural, req.rt.group, req.name)
    if req.storage.kind == "Namespace" and req.name in PROTECTED_NAMESPACES:
        raise ApiError(
            403,
            f'namespaces "{req.name}" is forbidden: this namespace may not be deleted',
            details=errors.object_details("namespaces", "", req.name),
        )

    key = key_of(req.storage, req.namespace, req.name)
    last = writes.cluster.delete(key, policy, dry_run=req.dry_run)
    assert last is not None
    remaining = None if req.dry_run else writes.cluster.store.get(key)
    if remaining is not None:
        return WriteResult(200, remaining, True, "delete", remaining)

    if req.storage.kind in RETURNS_DELETED_OBJECT:
        body = copy.deepcopy(last)
        if req.storage.kind == "Namespace":
            body["status"] = dict(body.get("status") or {}, phase="Terminating")
        return WriteResult(200, body, True, "delete")

    details = errors.object_details(
        req.rt.plural, req.rt.group, req.name, old["metadata"]["uid"]
    )
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }
    return WriteResult(200, status, True, "delete")
