"""Pods: creation from templates, scheduling on the one node, and their life as the kubelet reports it.

A pod goes through these states, each written into `status` by `reconcile_pod`:

1. Unschedulable: container requests exceed the node's capacity (or ask for a
   resource the node lacks, such as `nvidia.com/gpu`), or `nodeSelector` does not
   match the node. `PodScheduled=False`, reason `Unschedulable`. Capacity is
   checked per pod, not summed over the pods already on the node, so that large
   test fleets fit on the single node.
2. Waiting for volumes: a referenced PersistentVolumeClaim is missing or not
   bound yet.
3. ContainerCreating: scheduled, until the pod's ready time (see the controller's
   ready delays and holds).
4. Running and Ready, or Succeeded for pods that do not restart (Job pods).
   Under an image fault the pod shows `ErrImagePull` then `ImagePullBackOff`,
   or `CrashLoopBackOff` with a growing `restartCount`, or Failed for pods that
   never restart.

Every status is computed from stored state and the controller's clock, and
condition times carry over while a condition keeps its status, so a pass that
changes nothing writes nothing.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from emulator.podstatus import (
    NODE_IP,
    PodRuntime,
    is_finished,
    is_ready,
    pod_status,
    qos_class,
)
from emulator.quantities import parse_quantity
from emulator.store import Key

if TYPE_CHECKING:
    from emulator.controller import Controller

NODE_NAME = "emulator-node"
NODE_LABELS = {
    "kubernetes.io/hostname": NODE_NAME,
    "kubernetes.io/os": "linux",
    "kubernetes.io/arch": "amd64",
    "node-role.kubernetes.io/control-plane": "",
}
NODE_CAPACITY = {
    "cpu": "8",
    "memory": "32Gi",
    "pods": "110",
    "ephemeral-storage": "100Gi",
}
# Characters Kubernetes uses for generated name suffixes (no vowels, no look-alikes).
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def random_suffix(length: int = 5) -> str:
    return "".join(random.choices(SUFFIX_ALPHABET, k=length))


def template_hash(template: dict[str, Any]) -> str:
    """Return a stable 10-character hash of a pod template, like `pod-template-hash`."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(SUFFIX_ALPHABET[byte % len(SUFFIX_ALPHABET)] for byte in digest[:10])


def node_object() -> dict[str, Any]:
    """Build the single Node of the emulated cluster."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": NODE_NAME, "labels": dict(NODE_LABELS)},
        "spec": {"podCIDR": "10.244.0.0/24"},
        "status": {
            "capacity": dict(NODE_CAPACITY),
            "allocatable": dict(NODE_CAPACITY),
            "addresses": [
                {"type": "InternalIP", "address": NODE_IP},
                {"type": "Hostname", "address": NODE_NAME},
            ],
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "emulated kubelet is posting ready status",
                },
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.31.0-oamflow-emulator",
                "containerRuntimeVersion": "emulated://1.0",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


def owner_reference(owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_owner(obj: dict[str, Any]) -> dict[str, Any] | None:
    for reference in obj["metadata"].get("ownerReferences") or []:
        if reference.get("controller"):
            return dict(reference)
    return None


def build_pod(
    owner: dict[str, Any],
    template: dict[str, Any],
    name: str,
    extra_labels: dict[str, str] | None = None,
    extra_spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a pod for a workload from its template, owned by the workload."""
    template_meta = template.get("metadata") or {}
    labels = dict(template_meta.get("labels") or {})
    labels.update(extra_labels or {})
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": owner["metadata"]["namespace"],
        "labels": labels,
        "ownerReferences": [owner_reference(owner)],
    }
    if template_meta.get("annotations"):
        metadata["annotations"] = dict(template_meta["annotations"])
    spec = copy.deepcopy(template.get("spec") or {})
    spec.update(extra_spec or {})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": spec,
        "status": {"phase": "Pending", "qosClass": qos_class(spec)},
    }


def unschedulable_message(pod: dict[str, Any]) -> str | None:
    """Return the scheduler's message if the pod cannot run on the node, else None."""
    spec = pod.get("spec") or {}
    for key, value in (spec.get("nodeSelector") or {}).items():
        if NODE_LABELS.get(key) != value:
            return "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."
    requests: dict[str, Decimal] = {}
    for container in spec.get("containers") or []:
        resources = container.get("resources") or {}
        requested = resources.get("requests") or {}
        for resource, quantity in {
            **(resources.get("limits") or {}),
            **requested,
        }.items():
            requests[resource] = requests.get(resource, Decimal(0)) + parse_quantity(
                quantity
            )
    insufficient = sorted(
        resource
        for resource, amount in requests.items()
        if amount > 0 and amount > parse_quantity(NODE_CAPACITY.get(resource, "0"))
    )
    if insufficient:
        reasons = ", ".join(f"1 Insufficient {resource}" for resource in insufficient)
        return f"0/1 nodes are available: {reasons}."

    return None


def claim_names(pod: dict[str, Any]) -> list[str]:
    return [
        volume["persistentVolumeClaim"]["claimName"]
        for volume in (pod.get("spec") or {}).get("volumes") or []
        if (volume.get("persistentVolumeClaim") or {}).get("claimName")
    ]


def config_references(pod: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """Return `(kind, name, in_env)` for the ConfigMaps and Secrets a pod needs.

    Optional references are left out. `in_env` is true when a container's
    environment needs the object, so a missing one fails the container with
    CreateContainerConfigError. Otherwise only a volume needs it, and the pod
    stays ContainerCreating.
    """
    spec = pod.get("spec") or {}
    references: list[tuple[str, str, bool]] = []
    for volume in spec.get("volumes") or []:
        for field, kind, name_key in (
            ("configMap", "ConfigMap", "name"),
            ("secret", "Secret", "secretName"),
        ):
            source = volume.get(field)
            if source and not source.get("optional") and source.get(name_key):
                references.append((kind, source[name_key], False))
    for container in (spec.get("containers") or []) + (
        spec.get("initContainers") or []
    ):
        for source in container.get("envFrom") or []:
            for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                ref = source.get(field)
                if ref and not ref.get("optional") and ref.get("name"):
                    references.append((kind, ref["name"], True))
        for env in container.get("env") or []:
            value_from = env.get("valueFrom") or {}
            for field, kind in (
                ("configMapKeyRef", "ConfigMap"),
                ("secretKeyRef", "Secret"),
            ):
                ref = value_from.get(field)
                if ref and not ref.get("optional") and ref.get("name"):
                    references.append((kind, ref["name"], True))
    return references


def _publish(
    ctl: Controller, key: Key, pod: dict[str, Any], status: dict[str, Any]
) -> None:
    """Write a pod status and log the moments the pod turns ready or unready."""
    stored = ctl.write_status(key, pod, status)
    ctl.report(key, stored, is_ready(stored))


def reconcile_pod(ctl: Controller, key: Key, pod: dict[str, Any]) -> None:
    """Advance one pod through scheduling, start-up and faults; see the module docstring."""
    if is_finished(pod) or pod["metadata"].get("deletionTimestamp"):
        return

    now = ctl.timestamp()
    runtime = ctl.pod_runtime(key)
    message = unschedulable_message(pod)
    if message is not None:
        ctl.record_event(pod, "Pod", "FailedScheduling", message, warning=True)
        _publish(
            ctl,
            key,
            pod,
            pod_status(pod, runtime, state="unschedulable", now=now, message=message),
        )
        return

    unbound = ctl.unbound_claims(key, pod)
    if unbound:
        text = f"0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims ({', '.join(unbound)})."
        _publish(
            ctl,
            key,
            pod,
            pod_status(pod, runtime, state="unbound", now=now, message=text),
        )
        return

    if not (pod.get("spec") or {}).get("nodeName"):
        pod = ctl.update_object(
            key, pod, dict(pod, spec=dict(pod["spec"], nodeName=NODE_NAME))
        )
    runtime.start_time = runtime.start_time or now
    missing = ctl.missing_config(key, pod)
    if missing is not None:
        kind, name, in_env = missing
        state = "config-error" if in_env else "creating"
        text = f'{kind.lower()} "{name}" not found'
        _publish(
            ctl, key, pod, pod_status(pod, runtime, state=state, now=now, message=text)
        )
        return

    if ctl.is_held(key, pod):
        # Releasing the hold queues the pod again.
        _publish(ctl, key, pod, pod_status(pod, runtime, state="creating", now=now))
        return

    if ctl.clock() < ctl.ready_time(key, pod):
        _publish(ctl, key, pod, pod_status(pod, runtime, state="creating", now=now))
        ctl.wake_at(key, ctl.ready_time(key, pod))
        return

    _run_containers(ctl, key, pod, runtime, now)


def _run_containers(
    ctl: Controller, key: Key, pod: dict[str, Any], runtime: PodRuntime, now: str
) -> None:
    spec = pod.get("spec") or {}
    fault, image = None, None
    for container in (spec.get("initContainers") or []) + (
        spec.get("containers") or []
    ):
        fault = ctl.image_fault(container.get("image", ""))
        if fault is not None:
            image = container.get("image", "")
            break
    restart_policy = spec.get("restartPolicy", "Always")
    run_to_completion = restart_policy != "Always"
    clock = ctl.clock()
    backoff = max(ctl.config.backoff_delay, 0.01)

    if fault is None:
        if runtime.fault is not None:
            # The fault was removed: the container starts over and needs its delay again.
            runtime.fault = None
            ctl.restart_ready_time(key, pod)
            _publish(ctl, key, pod, pod_status(pod, runtime, state="creating", now=now))
            ctl.wake_at(key, ctl.ready_time(key, pod))
            return
        runtime.running_since = runtime.running_since or now
        runtime.ip = runtime.ip or ctl.allocate_pod_ip()
        state = "succeeded" if run_to_completion else "running"
        _publish(ctl, key, pod, pod_status(pod, runtime, state=state, now=now))
        return

    if runtime.fault != fault:
        runtime.fault, runtime.fault_since = fault, clock
    runtime.running_since = runtime.running_since or now
    if fault == "pull":
        reason = (
            "ErrImagePull"
            if clock - runtime.fault_since < backoff
            else "ImagePullBackOff"
        )
        _publish(
            ctl,
            key,
            pod,
            pod_status(
                pod,
                runtime,
                state="creating-fault",
                now=now,
                message=reason,
                fault_image=image,
            ),
        )
        ctl.wake_at(key, clock + backoff)
        return

    if restart_policy == "Never":
        _publish(
            ctl,
            key,
            pod,
            pod_status(pod, runtime, state="failed", now=now, fault_image=image),
        )
        return

    runtime.restarts = 1 + int((clock - runtime.fault_since) / backoff)
    _publish(
        ctl,
        key,
        pod,
        pod_status(pod, runtime, state="crashloop", now=now, fault_image=image),
    )
    ctl.wake_at(key, runtime.fault_since + runtime.restarts * backoff + 1e-6)
