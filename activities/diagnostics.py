"""Why a workload is not becoming ready, told pod by pod.

A Deployment's status says "0 of 1 available"; its pods say why: an image that
cannot be pulled, a container that keeps crashing, no node with room for it. This
module reads those reasons from pod objects (pure functions) and decides which are
worth failing the job for before its timeout: back-off states that last longer
than a grace period rarely fix themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Waiting reasons that mean the container will not start without a change.
BACKOFF_REASONS = {
    "ImagePullBackOff": "check the image name and tag, and that the cluster can pull it (registry access, imagePullSecrets)",
    "ErrImagePull": "check the image name and tag, and that the cluster can pull it (registry access, imagePullSecrets)",
    "InvalidImageName": "the image reference is invalid; correct it in the request",
    "ErrImageNeverPull": "the image is not on the node and imagePullPolicy is Never",
    "CrashLoopBackOff": "the container keeps exiting; read its logs with `kubectl logs {pod} -c {container} --previous -n {namespace}`",
    "CreateContainerConfigError": "a ConfigMap, Secret or key the container references is missing",
    "CreateContainerError": "the container runtime could not create the container",
    "RunContainerError": "the container runtime could not start the container",
}


@dataclass(frozen=True)
class PodIssue:
    pod: str
    container: str | None
    reason: str
    message: str
    restarts: int
    fatal: bool  # a back-off state that fails the job once it outlasts the grace period

    @property
    def key(self) -> str:
        return f"{self.pod}/{self.container}/{self.reason}"

    def describe(self, namespace: str | None) -> str:
        where = f"pod {self.pod}"
        if self.container:
            where += f" container {self.container}"
        text = f"{where}: {self.reason}"
        if self.message:
            text += f" ({self.message})"
        if self.restarts:
            text += f", {self.restarts} restarts"
        hint = BACKOFF_REASONS.get(self.reason)
        if hint:
            text += "; " + hint.format(
                pod=self.pod,
                container=self.container or "",
                namespace=namespace or "default",
            )
        return text


def pod_issues(pods: list[dict[str, Any]]) -> list[PodIssue]:
    """Problems visible on pods: waiting containers, unschedulable or failed pods."""
    issues: list[PodIssue] = []
    for pod in sorted(
        pods, key=lambda item: (item.get("metadata") or {}).get("name", "")
    ):
        name = (pod.get("metadata") or {}).get("name", "?")
        status = pod.get("status") or {}
        for item in status.get("conditions") or []:
            if item.get("type") == "PodScheduled" and item.get("status") == "False":
                issues.append(
                    PodIssue(
                        name,
                        None,
                        item.get("reason") or "Unschedulable",
                        item.get("message", ""),
                        0,
                        False,
                    )
                )
        statuses = (status.get("initContainerStatuses") or []) + (
            status.get("containerStatuses") or []
        )
        for container in statuses:
            waiting = (container.get("state") or {}).get("waiting") or {}
            reason = waiting.get("reason")
            if reason in BACKOFF_REASONS:
                issues.append(
                    PodIssue(
                        name,
                        container.get("name"),
                        reason,
                        waiting.get("message", ""),
                        int(container.get("restartCount") or 0),
                        True,
                    )
                )
        if status.get("phase") == "Failed":
            issues.append(
                PodIssue(
                    name,
                    None,
                    status.get("reason") or "Failed",
                    status.get("message", ""),
                    0,
                    False,
                )
            )
    return issues


def pod_selector(obj: dict[str, Any]) -> str | None:
    """A label selector for the pods of a workload, or None if it has none to use."""
    spec = obj.get("spec") or {}
    labels = (spec.get("selector") or {}).get("matchLabels")
    if not labels and obj.get("kind") == "Job":
        name = (obj.get("metadata") or {}).get("name")
        labels = {"job-name": name} if name else None
    if not labels:
        return None
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def summarize(issues: list[PodIssue], namespace: str | None, limit: int = 3) -> str:
    if not issues:
        return ""
    shown = [issue.describe(namespace) for issue in issues[:limit]]
    more = f"; and {len(issues) - limit} more" if len(issues) > limit else ""
    return "; ".join(shown) + more
