"""Deployment, ReplicaSet and DaemonSet controllers, and helpers shared by all workloads.

Each reconciler makes the workload's pods match its spec and then writes the
status that the real controller would write, computed from those pods. The
simplifications:

* A Deployment owns its pods directly; no ReplicaSet objects are created. Pods
  are named `<deployment>-<template hash>-<suffix>`. A rollout creates all new
  pods at once and deletes the old ones when every new pod is ready.
* A DaemonSet runs one pod on the single node, unless its `nodeSelector`
  excludes the node.
* While a hold matches a workload, its pods stay unready, so its status shows
  the rollout observed but not available.

StatefulSets and Jobs have their own modules.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from emulator import pods
from emulator.pods import build_pod, random_suffix, template_hash
from emulator.podstatus import is_ready, merge_conditions
from emulator.store import Key

if TYPE_CHECKING:
    from emulator.controller import Controller

PODS = ("", "pods")
CLAIMS = ("", "persistentvolumeclaims")


def key_of_pod(obj: dict[str, Any]) -> Key:
    return (PODS[0], PODS[1], obj["metadata"]["namespace"], obj["metadata"]["name"])


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("spec") or {}


def _generation(obj: dict[str, Any]) -> int:
    return int(obj["metadata"].get("generation", 1))


def _condition(
    kind: str, ok: bool, reason: str, message: str, with_update: bool = False
) -> dict[str, Any]:
    condition = {
        "type": kind,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message,
    }
    if with_update:
        condition["lastUpdateTime"] = ""
    return condition


def _scaled(value: Any, total: int, round_up: bool) -> int:
    """Resolve an int-or-percent field such as `maxUnavailable: 25%` against a total."""
    if isinstance(value, str) and value.endswith("%"):
        fraction = total * int(value[:-1]) / 100
        return math.ceil(fraction) if round_up else math.floor(fraction)

    return int(value or 0)


def _finish(
    ctl: Controller, key: Key, obj: dict[str, Any], status: dict[str, Any], ready: bool
) -> None:
    """Write the status computed from the pods, then report readiness.

    A held workload still gets its status written, as a real controller would
    for pods that do not become ready: observed, updated, not available.
    """
    stored = ctl.write_status(key, obj, status)
    ctl.report(key, stored, ready and not ctl.is_held(key, obj))


# Deployment and ReplicaSet.


def reconcile_deployment(ctl: Controller, key: Key, deployment: dict[str, Any]) -> None:
    spec = _spec(deployment)
    replicas = int(spec.get("replicas", 1))
    template = spec.get("template") or {}
    revision = template_hash(template)
    name = deployment["metadata"]["name"]

    owned = ctl.owned(deployment, PODS)
    current = [
        (k, p)
        for k, p in owned
        if (p["metadata"].get("labels") or {}).get("pod-template-hash") == revision
    ]
    outdated = [
        (k, p)
        for k, p in owned
        if (p["metadata"].get("labels") or {}).get("pod-template-hash") != revision
    ]
    _scale_pods(
        ctl,
        deployment,
        current,
        replicas,
        lambda: f"{name}-{revision}-{random_suffix()}",
        {"pod-template-hash": revision},
    )
    outdated_keys = {k for k, _ in outdated}
    current = [(k, p) for k, p in ctl.owned(deployment, PODS) if k not in outdated_keys]
    ready_current = sum(1 for _, pod in current if is_ready(pod))
    if ready_current >= replicas:
        for pod_key, _ in outdated:
            ctl.delete(pod_key)
        outdated = []

    everything = current + outdated
    ready_count = sum(1 for _, pod in everything if is_ready(pod))
    complete = len(current) == replicas and not outdated and ready_current == replicas
    max_unavailable = _scaled(
        ((spec.get("strategy") or {}).get("rollingUpdate") or {}).get(
            "maxUnavailable", "25%"
        ),
        replicas,
        round_up=False,
    )
    available = ready_count >= replicas - max_unavailable
    progressing = _progress_condition(
        ctl, key, deployment, ready_current, complete, f"{name}-{revision}"
    )
    now = ctl.timestamp()
    old_status = deployment.get("status") or {}
    conditions = [
        _condition(
            "Available",
            available,
            "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
            f"{ready_count} of {replicas} replicas are available; at least "
            f"{replicas - max_unavailable} must be",
            with_update=True,
        ),
        progressing,
    ]
    status: dict[str, Any] = {
        "observedGeneration": _generation(deployment),
        "replicas": len(everything),
        "updatedReplicas": len(current),
        "readyReplicas": ready_count,
        "availableReplicas": ready_count,
        "conditions": merge_conditions(old_status.get("conditions"), conditions, now),
    }
    if len(everything) - ready_count > 0:
        status["unavailableReplicas"] = len(everything) - ready_count
    status = {k: v for k, v in status.items() if v != 0 or k == "observedGeneration"}
    _finish(ctl, key, deployment, status, complete)


def _progress_condition(
    ctl: Controller,
    key: Key,
    deployment: dict[str, Any],
    ready_current: int,
    complete: bool,
    replica_set: str,
) -> dict[str, Any]:
    generation = _generation(deployment)
    clock = ctl.clock()
    seen_generation, last_progress, last_ready = ctl.progress.get(
        key, (generation, clock, -1)
    )
    if seen_generation != generation or ready_current > last_ready:
        last_progress = clock
    ctl.progress[key] = (generation, last_progress, ready_current)
    if complete:
        return _condition(
            "Progressing",
            True,
            "NewReplicaSetAvailable",
            f'Pods of template "{replica_set}" are all updated and available.',
            with_update=True,
        )
    deadline = ctl.config.progress_deadline_seconds
    if deadline is None:
        deadline = float(_spec(deployment).get("progressDeadlineSeconds", 600))
    if clock - last_progress > deadline:
        return _condition(
            "Progressing",
            False,
            "ProgressDeadlineExceeded",
            f'Pods of template "{replica_set}" made no progress for {deadline:g} seconds.',
            with_update=True,
        )
    ctl.wake_at(key, last_progress + deadline + 0.001)
    return _condition(
        "Progressing",
        True,
        "ReplicaSetUpdated",
        f'Pods of template "{replica_set}" are progressing.',
        with_update=True,
    )


def _scale_pods(
    ctl: Controller,
    owner: dict[str, Any],
    current: list[tuple[Key, dict[str, Any]]],
    replicas: int,
    next_name: Any,
    extra_labels: dict[str, str],
) -> None:
    template = _spec(owner).get("template") or {}
    for _ in range(replicas - len(current)):
        ctl.create(
            PODS,
            build_pod(
                owner, template, next_name(), extra_labels, {"nodeName": pods.NODE_NAME}
            ),
        )
    if len(current) > replicas:
        # Remove pods that are not ready first, as the ReplicaSet controller does.
        ranked = sorted(current, key=lambda item: (is_ready(item[1]), item[0][3]))
        for pod_key, _ in ranked[: len(current) - replicas]:
            ctl.delete(pod_key)


def reconcile_replica_set(
    ctl: Controller, key: Key, replica_set: dict[str, Any]
) -> None:
    replicas = int(_spec(replica_set).get("replicas", 1))
    name = replica_set["metadata"]["name"]
    owned = ctl.owned(replica_set, PODS)
    _scale_pods(
        ctl, replica_set, owned, replicas, lambda: f"{name}-{random_suffix()}", {}
    )
    owned = ctl.owned(replica_set, PODS)
    ready_count = sum(1 for _, pod in owned if is_ready(pod))
    status = {
        "observedGeneration": _generation(replica_set),
        "replicas": len(owned),
        "fullyLabeledReplicas": len(owned),
        "readyReplicas": ready_count,
        "availableReplicas": ready_count,
    }
    status = {
        k: v
        for k, v in status.items()
        if v != 0 or k in ("observedGeneration", "replicas")
    }
    _finish(ctl, key, replica_set, status, ready_count == replicas == len(owned))


# DaemonSet.


def reconcile_daemon_set(ctl: Controller, key: Key, daemon_set: dict[str, Any]) -> None:
    template = _spec(daemon_set).get("template") or {}
    revision = template_hash(template)
    name = daemon_set["metadata"]["name"]
    selector = (template.get("spec") or {}).get("nodeSelector") or {}
    fits = all(
        pods.NODE_LABELS.get(label) == value for label, value in selector.items()
    )
    desired = 1 if fits else 0

    owned = ctl.owned(daemon_set, PODS)
    for pod_key, pod in owned:
        if (
            not fits
            or (pod["metadata"].get("labels") or {}).get("controller-revision-hash")
            != revision
        ):
            ctl.delete(pod_key)
    owned = ctl.owned(daemon_set, PODS)
    if desired and not owned:
        labels = {
            "controller-revision-hash": revision,
            "pod-template-generation": str(_generation(daemon_set)),
        }
        ctl.create(
            PODS,
            build_pod(
                daemon_set,
                template,
                f"{name}-{random_suffix()}",
                labels,
                {"nodeName": pods.NODE_NAME},
            ),
        )
        owned = ctl.owned(daemon_set, PODS)
    ready_count = sum(1 for _, pod in owned if is_ready(pod))
    status = {
        "observedGeneration": _generation(daemon_set),
        "desiredNumberScheduled": desired,
        "currentNumberScheduled": len(owned),
        "updatedNumberScheduled": len(owned),
        "numberReady": ready_count,
        "numberAvailable": ready_count,
        "numberMisscheduled": 0,
    }
    if desired - ready_count > 0:
        status["numberUnavailable"] = desired - ready_count
    _finish(
        ctl, key, daemon_set, status, ready_count == desired and len(owned) == desired
    )
