"""When Kubernetes reports an object ready, judged from the object alone.

Workloads follow `kubectl rollout status`: the controller has observed the latest
generation, every replica is updated and available, and no old replica is left.
A Job is ready when Complete, a PersistentVolumeClaim when Bound (or Pending on a
storage class that binds only once a pod uses it), a CustomResourceDefinition when
Established, a Service once it has a cluster IP. Every other kind is ready once
applied. Terminal states (a failed Job, a rollout past its progress deadline, a
lost claim, rejected CRD names) are failures, so waits end at once.

These are pure functions of the object (and, for claims, the storage class's
binding mode), so they are tested without a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

State = Literal["ready", "waiting", "failed"]
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")


@dataclass(frozen=True)
class Verdict:
    state: State
    message: str

    @property
    def ready(self) -> bool:
        return self.state == "ready"


def _ready(message: str) -> Verdict:
    return Verdict("ready", message)


def _waiting(message: str) -> Verdict:
    return Verdict("waiting", message)


def _failed(message: str) -> Verdict:
    return Verdict("failed", message)


def evaluate(obj: dict[str, Any], binding_mode: str | None = None) -> Verdict:
    """Judge readiness of a live object; `binding_mode` is its claim's storage class mode."""
    kind = obj.get("kind")
    if kind == "Deployment":
        return _deployment(obj)
    if kind == "StatefulSet":
        return _statefulset(obj)
    if kind == "DaemonSet":
        return _daemonset(obj)
    if kind == "ReplicaSet":
        return _replicaset(obj)
    if kind == "Job":
        return _job(obj)
    if kind == "PersistentVolumeClaim":
        return _claim(obj, binding_mode)
    if kind == "CustomResourceDefinition":
        return _crd(obj)
    if kind == "Service":
        return _service(obj)
    return _ready("applied")


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for item in (obj.get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            return item
    return None


def _observed(obj: dict[str, Any]) -> bool:
    generation = (obj.get("metadata") or {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    if generation is None:
        return True
    return observed is not None and observed >= generation


def _deployment(obj: dict[str, Any]) -> Verdict:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    if not _observed(obj):
        return _waiting(
            "waiting for the deployment controller to observe the new generation"
        )
    progressing = condition(obj, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return _failed(
            f"the rollout exceeded its progress deadline (ProgressDeadlineExceeded): {progressing.get('message', '')}".rstrip(
                ": "
            )
        )
    wanted = spec.get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    total = status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    if updated < wanted:
        return _waiting(f"{updated} of {wanted} replicas updated")
    if total > updated:
        return _waiting(f"{total - updated} old replicas are pending termination")
    if available < updated:
        return _waiting(f"{available} of {updated} updated replicas available")
    return _ready(f"{wanted} of {wanted} replicas available")


def _statefulset(obj: dict[str, Any]) -> Verdict:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    if not _observed(obj):
        return _waiting(
            "waiting for the statefulset controller to observe the new generation"
        )
    wanted = spec.get("replicas", 1)
    ready = status.get("readyReplicas", 0)
    if ready < wanted:
        return _waiting(f"{ready} of {wanted} pods ready")
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        return _ready(f"{wanted} of {wanted} pods ready")
    partition = (strategy.get("rollingUpdate") or {}).get("partition")
    if partition:
        updated = status.get("updatedReplicas", 0)
        if updated < wanted - partition:
            return _waiting(
                f"{updated} of {wanted - partition} pods updated above partition {partition}"
            )
        return _ready(f"{wanted} pods ready, partition {partition} rolled out")
    if status.get("updateRevision") != status.get("currentRevision"):
        updated = status.get("updatedReplicas", 0)
        return _waiting(
            f"rolling update in progress: {updated} of {wanted} pods at the new revision"
        )
    return _ready(f"{wanted} of {wanted} pods ready")


def _daemonset(obj: dict[str, Any]) -> Verdict:
    status = obj.get("status") or {}
    if not _observed(obj):
        return _waiting(
            "waiting for the daemonset controller to observe the new generation"
        )
    desired = status.get("desiredNumberScheduled", 0)
    updated = status.get("updatedNumberScheduled", 0)
    available = status.get("numberAvailable", 0)
    if updated < desired:
        return _waiting(f"{updated} of {desired} pods updated")
    if available < desired:
        return _waiting(f"{available} of {desired} updated pods available")
    return _ready(f"{desired} of {desired} pods available")


def _replicaset(obj: dict[str, Any]) -> Verdict:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    if not _observed(obj):
        return _waiting(
            "waiting for the replicaset controller to observe the new generation"
        )
    wanted = spec.get("replicas", 1)
    available = status.get("availableReplicas", 0)
    if available < wanted:
        return _waiting(f"{available} of {wanted} replicas available")
    return _ready(f"{wanted} of {wanted} replicas available")


def _job(obj: dict[str, Any]) -> Verdict:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    failed = condition(obj, "Failed")
    if failed and failed.get("status") == "True":
        reason = failed.get("reason") or "Failed"
        return _failed(
            f"the job failed ({reason}): {failed.get('message', '')}".rstrip(": ")
        )
    complete = condition(obj, "Complete")
    if complete and complete.get("status") == "True":
        return _ready("completed")
    wanted = spec.get("completions", 1) or 1
    return _waiting(f"{status.get('succeeded', 0)} of {wanted} completions")


def _claim(obj: dict[str, Any], binding_mode: str | None) -> Verdict:
    phase = (obj.get("status") or {}).get("phase")
    if phase == "Bound":
        return _ready("bound")
    if phase == "Lost":
        return _failed("the claim lost its volume (phase Lost)")
    if binding_mode == "WaitForFirstConsumer":
        return _ready(
            "pending until a pod uses it (its storage class binds on first consumer)"
        )
    return _waiting(f"phase {phase or 'unknown'}, waiting to be bound")


def _crd(obj: dict[str, Any]) -> Verdict:
    names = condition(obj, "NamesAccepted")
    if names and names.get("status") == "False":
        return _failed(
            f"names not accepted ({names.get('reason')}): {names.get('message', '')}"
        )
    established = condition(obj, "Established")
    if established and established.get("status") == "True":
        return _ready("established")
    return _waiting("waiting to be established")


def _service(obj: dict[str, Any]) -> Verdict:
    spec = obj.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return _ready("external name")
    cluster_ip = spec.get("clusterIP")
    if cluster_ip == "None":
        return _ready("headless")
    if cluster_ip:
        return _ready(f"cluster IP {cluster_ip}")
    return _waiting("waiting for a cluster IP")
