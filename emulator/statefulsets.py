"""The StatefulSet controller: ordered pods with stable names and their volume claims.

Pods are named `<set>-<ordinal>` and created in ordinal order, one at a time
with the OrderedReady policy (all at once with Parallel). Each pod gets the
claims of `volumeClaimTemplates`, named `<template>-<set>-<ordinal>` and created
before the pod. Outdated pods are replaced from the highest ordinal down, one at
a time, once all pods are ready.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from emulator import pods
from emulator.pods import build_pod, template_hash
from emulator.podstatus import is_ready
from emulator.store import Key
from emulator.workloads import CLAIMS, PODS, _finish, _generation, _spec, key_of_pod

if TYPE_CHECKING:
    from emulator.controller import Controller


_ORDINAL = re.compile(r"-(\d+)$")


def _claim_name(template: dict[str, Any], set_name: str, ordinal: int) -> str:
    return f"{template['metadata']['name']}-{set_name}-{ordinal}"


def reconcile_stateful_set(
    ctl: Controller, key: Key, stateful_set: dict[str, Any]
) -> None:
    spec = _spec(stateful_set)
    name = stateful_set["metadata"]["name"]
    replicas = int(spec.get("replicas", 1))
    template = spec.get("template") or {}
    update_revision = f"{name}-{template_hash(template)}"
    ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"

    by_ordinal: dict[int, tuple[Key, dict[str, Any]]] = {}
    for pod_key, pod in ctl.owned(stateful_set, PODS):
        match = _ORDINAL.search(pod_key[3])
        if match is not None and pod_key[3] == f"{name}-{match.group(1)}":
            by_ordinal[int(match.group(1))] = (pod_key, pod)

    for ordinal in sorted(by_ordinal, reverse=True):
        if ordinal >= replicas:
            ctl.delete(by_ordinal.pop(ordinal)[0])
    for ordinal in range(replicas):
        if ordinal in by_ordinal:
            continue
        if ordered and any(
            not is_ready(by_ordinal[i][1]) for i in range(ordinal) if i in by_ordinal
        ):
            break
        _ensure_claims(ctl, stateful_set, ordinal)
        pod = _stateful_pod(stateful_set, template, ordinal, update_revision)
        stored = ctl.create(PODS, pod)
        by_ordinal[ordinal] = (key_of_pod(stored), stored)
        if ordered:
            break

    pods_now = [by_ordinal[i] for i in sorted(by_ordinal)]
    all_ready = len(pods_now) == replicas and all(is_ready(pod) for _, pod in pods_now)
    outdated = [item for item in pods_now if _revision(item[1]) != update_revision]
    strategy = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate")
    if all_ready and outdated and strategy == "RollingUpdate":
        ctl.delete(outdated[-1][0])
        ctl.enqueue(key)

    old_status = stateful_set.get("status") or {}
    current_revision = old_status.get("currentRevision") or update_revision
    updated = sum(1 for _, pod in pods_now if _revision(pod) == update_revision)
    if all_ready and updated == replicas:
        current_revision = update_revision
    ready_count = sum(1 for _, pod in pods_now if is_ready(pod))
    status = {
        "observedGeneration": _generation(stateful_set),
        "replicas": len(pods_now),
        "readyReplicas": ready_count,
        "availableReplicas": ready_count,
        "currentReplicas": sum(
            1 for _, pod in pods_now if _revision(pod) == current_revision
        ),
        "updatedReplicas": updated,
        "currentRevision": current_revision,
        "updateRevision": update_revision,
        "collisionCount": 0,
    }
    ready = all_ready and updated == replicas and current_revision == update_revision
    _finish(ctl, key, stateful_set, status, ready)


def _revision(pod: dict[str, Any]) -> str | None:
    return (pod["metadata"].get("labels") or {}).get("controller-revision-hash")


def _stateful_pod(
    stateful_set: dict[str, Any], template: dict[str, Any], ordinal: int, revision: str
) -> dict[str, Any]:
    name = stateful_set["metadata"]["name"]
    spec = _spec(stateful_set)
    pod_name = f"{name}-{ordinal}"
    labels = {
        "controller-revision-hash": revision,
        "statefulset.kubernetes.io/pod-name": pod_name,
        "apps.kubernetes.io/pod-index": str(ordinal),
    }
    volumes = [v for v in (template.get("spec") or {}).get("volumes") or []]
    claim_volumes = {
        t["metadata"]["name"] for t in spec.get("volumeClaimTemplates") or []
    }
    volumes = [v for v in volumes if v.get("name") not in claim_volumes]
    for claim_template in spec.get("volumeClaimTemplates") or []:
        volumes.append(
            {
                "name": claim_template["metadata"]["name"],
                "persistentVolumeClaim": {
                    "claimName": _claim_name(claim_template, name, ordinal)
                },
            }
        )
    extra_spec: dict[str, Any] = {"hostname": pod_name, "nodeName": pods.NODE_NAME}
    if volumes:
        extra_spec["volumes"] = volumes
    if spec.get("serviceName"):
        extra_spec["subdomain"] = spec["serviceName"]
    return build_pod(stateful_set, template, pod_name, labels, extra_spec)


def _ensure_claims(ctl: Controller, stateful_set: dict[str, Any], ordinal: int) -> None:
    name = stateful_set["metadata"]["name"]
    namespace = stateful_set["metadata"]["namespace"]
    spec = _spec(stateful_set)
    delete_with_set = (spec.get("persistentVolumeClaimRetentionPolicy") or {}).get(
        "whenDeleted"
    ) == "Delete"
    selector_labels = ((spec.get("selector") or {}).get("matchLabels")) or {}
    for claim_template in spec.get("volumeClaimTemplates") or []:
        claim_name = _claim_name(claim_template, name, ordinal)
        if ctl.store.get((CLAIMS[0], CLAIMS[1], namespace, claim_name)) is not None:
            continue
        metadata: dict[str, Any] = {
            "name": claim_name,
            "namespace": namespace,
            "labels": {
                **selector_labels,
                **((claim_template.get("metadata") or {}).get("labels") or {}),
            },
        }
        if delete_with_set:
            metadata["ownerReferences"] = [pods.owner_reference(stateful_set)]
        claim_spec = dict(claim_template.get("spec") or {})
        claim_spec.setdefault("volumeMode", "Filesystem")
        if "storageClassName" not in claim_spec:
            default_class = ctl.default_storage_class()
            if default_class:
                claim_spec["storageClassName"] = default_class
        ctl.create(
            CLAIMS,
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": metadata,
                "spec": claim_spec,
                "status": {"phase": "Pending"},
            },
        )
