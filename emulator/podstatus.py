"""Pod `status` as the kubelet reports it, built from a state name and runtime facts.

`pod_status` turns one of the states of `emulator.pods` (unschedulable, unbound,
creating, running, crashloop, succeeded, failed...) into a whole `status` object.
Condition transition times carry over while a condition keeps its status, so
that building the status twice for the same state gives the same object.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

NODE_IP = "172.18.0.2"


def qos_class(spec: dict[str, Any]) -> str:
    resources = [
        container.get("resources") or {} for container in spec.get("containers") or []
    ]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        r.get("limits")
        and all(r["limits"].get(k) is not None for k in ("cpu", "memory"))
        and (not r.get("requests") or r["requests"] == r["limits"])
        for r in resources
    )
    return "Guaranteed" if guaranteed else "Burstable"


@dataclasses.dataclass
class PodRuntime:
    """State that the emulated kubelet keeps about one pod between passes."""

    start_time: str | None = None
    running_since: str | None = None
    fault: str | None = None
    fault_since: float = 0.0
    restarts: int = 0
    ip: str | None = None


def merge_conditions(
    old: list[dict[str, Any]] | None, new: list[dict[str, Any]], now: str
) -> list[dict[str, Any]]:
    """Give each condition its old transition time if its status did not change."""
    previous = {condition.get("type"): condition for condition in old or []}
    merged = []
    for condition in new:
        before = previous.get(condition["type"])
        times = {"lastTransitionTime": now}
        if "lastUpdateTime" in condition:
            times["lastUpdateTime"] = now
        if before is not None and before.get("status") == condition["status"]:
            times["lastTransitionTime"] = before.get("lastTransitionTime", now)
            if (
                before.get("reason") == condition.get("reason")
                and "lastUpdateTime" in condition
            ):
                times["lastUpdateTime"] = before.get("lastUpdateTime", now)
        merged.append({**condition, **times})
    return merged


def _condition(
    kind: str, ok: bool, reason: str | None = None, message: str | None = None
) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "type": kind,
        "status": "True" if ok else "False",
        "lastProbeTime": None,
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def _container_id(pod: dict[str, Any], name: str, restarts: int) -> str:
    seed = f"{pod['metadata'].get('uid')}/{name}/{restarts}"
    return "containerd://" + hashlib.sha256(seed.encode()).hexdigest()


def _image_id(image: str) -> str:
    return f"{image}@sha256:" + hashlib.sha256(image.encode()).hexdigest()


def container_statuses(
    pod: dict[str, Any],
    runtime: PodRuntime,
    state: str,
    fault_reason: str | None,
    fault_image: str | None,
) -> list[dict[str, Any]]:
    """Build `containerStatuses` for one of the states named in the module docstring."""
    statuses = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        name, image = container["name"], container.get("image", "")
        status: dict[str, Any] = {
            "name": name,
            "image": image,
            "imageID": "",
            "ready": False,
            "restartCount": runtime.restarts,
            "started": False,
        }
        faulty = fault_image is not None and image == fault_image
        if state == "creating":
            status["state"] = {"waiting": {"reason": "ContainerCreating"}}
        elif state == "config-error":
            status["state"] = {
                "waiting": {
                    "reason": "CreateContainerConfigError",
                    "message": fault_reason or "",
                }
            }
        elif faulty and runtime.fault == "pull":
            reason = fault_reason or "ErrImagePull"
            message = (
                f'Back-off pulling image "{image}"'
                if reason == "ImagePullBackOff"
                else f'failed to pull image "{image}": emulated image pull failure'
            )
            status["state"] = {"waiting": {"reason": reason, "message": message}}
        elif faulty and state == "crashloop":
            status["state"] = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off restarting failed container {name} in pod "
                    f"{pod['metadata']['name']}",
                }
            }
            status["lastState"] = {
                "terminated": {
                    "exitCode": 1,
                    "reason": "Error",
                    "startedAt": runtime.running_since,
                    "finishedAt": runtime.running_since,
                    "containerID": _container_id(pod, name, runtime.restarts),
                }
            }
        elif state in ("failed", "succeeded"):
            failed = state == "failed" and (faulty or fault_image is None)
            status["state"] = {
                "terminated": {
                    "exitCode": 1 if failed else 0,
                    "reason": "Error" if failed else "Completed",
                    "startedAt": runtime.running_since,
                    "finishedAt": runtime.running_since,
                    "containerID": _container_id(pod, name, runtime.restarts),
                }
            }
            status["imageID"] = _image_id(image)
            status["containerID"] = _container_id(pod, name, runtime.restarts)
        else:
            status.update(
                ready=state == "running",
                started=True,
                imageID=_image_id(image),
                containerID=_container_id(pod, name, runtime.restarts),
            )
            status["state"] = {"running": {"startedAt": runtime.running_since}}
        statuses.append(status)
    return statuses


def pod_status(
    pod: dict[str, Any],
    runtime: PodRuntime,
    *,
    state: str,
    now: str,
    message: str | None = None,
    fault_image: str | None = None,
) -> dict[str, Any]:
    """Build a pod's whole `status` for a state: unschedulable, unbound, creating, running..."""
    old = pod.get("status") or {}
    status: dict[str, Any] = {
        "qosClass": old.get("qosClass") or qos_class(pod.get("spec") or {})
    }
    if state in ("unschedulable", "unbound"):
        status["phase"] = "Pending"
        status["conditions"] = merge_conditions(
            old.get("conditions"),
            [_condition("PodScheduled", False, "Unschedulable", message)],
            now,
        )
        return status

    statuses = container_statuses(pod, runtime, state, message, fault_image)
    ready = state == "running"
    finished = state in ("succeeded", "failed")
    phase = {
        "succeeded": "Succeeded",
        "failed": "Failed",
        "running": "Running",
        "crashloop": "Running",
    }.get(state, "Pending")
    names = ",".join(s["name"] for s in statuses if not s["ready"])
    if ready:
        not_ready = None
    elif finished:
        not_ready = "PodCompleted"
    else:
        not_ready = "ContainersNotReady"
    not_ready_message = (
        None if ready or finished else f"containers with unready status: [{names}]"
    )
    conditions = [
        _condition("PodReadyToStartContainers", state != "creating"),
        _condition("Initialized", True, "PodCompleted" if finished else None),
        _condition("Ready", ready, not_ready, not_ready_message),
        _condition("ContainersReady", ready, not_ready, not_ready_message),
        _condition("PodScheduled", True),
    ]
    status.update(
        phase=phase,
        conditions=merge_conditions(old.get("conditions"), conditions, now),
        hostIP=NODE_IP,
        hostIPs=[{"ip": NODE_IP}],
        startTime=runtime.start_time or now,
        containerStatuses=statuses,
    )
    if runtime.ip:
        status["podIP"] = runtime.ip
        status["podIPs"] = [{"ip": runtime.ip}]
    return status


def is_ready(pod: dict[str, Any]) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def is_finished(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
