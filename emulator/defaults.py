"""Defaulting and the built-in behaviour of writes, before validation runs.

This module plays the parts of kube-apiserver that change an object on its way
in: API defaults (replicas, strategies, protocols), Service IP and node port
allocation, Secret `stringData` folding, the Namespace name label and phase,
Job selector generation and the default StorageClass of PersistentVolumeClaims.
Only the defaults that clients commonly read back are filled in.
"""

from __future__ import annotations

import base64
import ipaddress
from typing import Any

from emulator.store import Change

SERVICE_NETWORK = ipaddress.ip_network("10.96.0.0/16")
NODE_PORT_RANGE = range(30000, 32768)
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


class ServiceAllocator:
    """Tracks cluster IPs and node ports in use, from the stored Services."""

    def __init__(self) -> None:
        self._ips: dict[str, str] = {}  # ip -> service uid
        self._ports: dict[int, str] = {}  # node port -> service uid
        self._next_ip = (
            10  # low addresses are reserved, as for the `kubernetes` Service
        )
        self._next_port = NODE_PORT_RANGE.start

    def clear(self) -> None:
        self._ips.clear()
        self._ports.clear()

    def observe(self, change: Change) -> None:
        """Keep the allocation tables in step with stored Services."""
        if change.key[:2] != ("", "services"):
            return
        uid = change.obj["metadata"].get("uid", "")
        if change.old is not None:
            self._release(change.old)
        if change.type != "DELETED":
            spec = change.obj.get("spec") or {}
            for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]:
                if ip and ip != "None":
                    self._ips[ip] = uid
            for port in spec.get("ports") or []:
                if port.get("nodePort"):
                    self._ports[port["nodePort"]] = uid

    def _release(self, obj: dict[str, Any]) -> None:
        uid = obj["metadata"].get("uid", "")
        for ip in [ip for ip, owner in self._ips.items() if owner == uid]:
            del self._ips[ip]
        for port in [port for port, owner in self._ports.items() if owner == uid]:
            del self._ports[port]

    def ip_owner(self, ip: str) -> str | None:
        return self._ips.get(ip)

    def port_owner(self, port: int) -> str | None:
        return self._ports.get(port)

    def allocate_ip(self) -> str:
        size = SERVICE_NETWORK.num_addresses
        for _ in range(size):
            candidate = str(SERVICE_NETWORK[self._next_ip])
            self._next_ip = self._next_ip + 1 if self._next_ip + 2 < size else 10
            if candidate not in self._ips:
                return candidate
        raise RuntimeError("the service IP range 10.96.0.0/16 is exhausted")

    def allocate_port(self) -> int:
        for _ in NODE_PORT_RANGE:
            candidate = self._next_port
            self._next_port += 1
            if self._next_port >= NODE_PORT_RANGE.stop:
                self._next_port = NODE_PORT_RANGE.start
            if candidate not in self._ports:
                return candidate
        raise RuntimeError("the node port range 30000-32767 is exhausted")


def apply_defaults(
    kind: str,
    obj: dict[str, Any],
    old: dict[str, Any] | None,
    *,
    allocator: ServiceAllocator,
    default_storage_class: str | None,
) -> None:
    """Fill in defaults and built-in fields of `obj` in place."""
    handler = _DEFAULTERS.get(kind)
    if handler is not None:
        handler(obj, old, allocator, default_storage_class)


def _namespace(obj: dict[str, Any], old: dict[str, Any] | None, *_: Any) -> None:
    name = obj["metadata"]["name"]
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    status = dict(obj.get("status") or (old or {}).get("status") or {})
    status.setdefault("phase", "Active")
    obj["status"] = status


def _secret(obj: dict[str, Any], *_: Any) -> None:
    string_data = obj.pop("stringData", None)
    if string_data:
        data = dict(obj.get("data") or {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data
    obj.setdefault("type", "Opaque")


def _service(
    obj: dict[str, Any],
    old: dict[str, Any] | None,
    allocator: ServiceAllocator,
    *_: Any,
) -> None:
    spec = obj.setdefault("spec", {})
    old_spec = (old or {}).get("spec") or {}
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] == "ExternalName":
        return
    old_ports = {port.get("port"): port for port in old_spec.get("ports") or []}
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
        if spec["type"] in ("NodePort", "LoadBalancer") and not port.get("nodePort"):
            previous = old_ports.get(port.get("port"), {}).get("nodePort")
            port["nodePort"] = previous or allocator.allocate_port()

    # An update that leaves out the allocated IP keeps it, as kube-apiserver does.
    if not spec.get("clusterIP") and old_spec.get("clusterIP"):
        spec["clusterIP"] = old_spec["clusterIP"]
    if not spec.get("clusterIP"):
        spec["clusterIP"] = allocator.allocate_ip()
    spec["clusterIPs"] = [spec["clusterIP"]]
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")


def _pod_template(template: dict[str, Any]) -> None:
    pod_spec = template.setdefault("spec", {})
    pod_spec.setdefault("restartPolicy", "Always")
    pod_spec.setdefault("terminationGracePeriodSeconds", 30)
    pod_spec.setdefault("dnsPolicy", "ClusterFirst")
    pod_spec.setdefault("schedulerName", "default-scheduler")


def _deployment(obj: dict[str, Any], *_: Any) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy.setdefault("type", "RollingUpdate")
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    _pod_template(spec.setdefault("template", {}))


def _replica_set(obj: dict[str, Any], *_: Any) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    _pod_template(spec.setdefault("template", {}))


def _stateful_set(obj: dict[str, Any], *_: Any) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    spec.setdefault("revisionHistoryLimit", 10)
    strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
    if strategy.get("type") == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {"partition": 0})
    _pod_template(spec.setdefault("template", {}))


def _daemon_set(obj: dict[str, Any], *_: Any) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("revisionHistoryLimit", 10)
    strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
    if strategy.get("type") == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {"maxUnavailable": 1, "maxSurge": 0})
    _pod_template(spec.setdefault("template", {}))


def _job(obj: dict[str, Any], old: dict[str, Any] | None, *_: Any) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completions", 1)
    spec.setdefault("parallelism", 1)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    template = spec.setdefault("template", {})
    _pod_template(template)
    if spec.get("manualSelector") or spec.get("selector"):
        return

    # Like the real Job API, select the Job's pods by its uid and label the
    # template to match. On update the stored selector is kept.
    if old is not None:
        spec["selector"] = (old.get("spec") or {}).get("selector")
        labels = ((old["spec"].get("template") or {}).get("metadata") or {}).get(
            "labels"
        )
        if labels:
            template.setdefault("metadata", {}).setdefault("labels", {}).update(labels)
        return
    uid = obj["metadata"]["uid"]
    name = obj["metadata"]["name"]
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    labels.update(
        {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        }
    )


def _cron_job(obj: dict[str, Any], *_: Any) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)


def _persistent_volume_claim(
    obj: dict[str, Any],
    old: dict[str, Any] | None,
    allocator: ServiceAllocator,
    default_storage_class: str | None,
) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("volumeMode", "Filesystem")
    if old is None:
        if "storageClassName" not in spec and default_storage_class:
            spec["storageClassName"] = default_storage_class
        obj["status"] = {"phase": "Pending"}


def _pod(obj: dict[str, Any], old: dict[str, Any] | None, *_: Any) -> None:
    _pod_template(obj)
    if old is None:
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}


def _custom_resource_definition(
    obj: dict[str, Any], old: dict[str, Any] | None, *_: Any
) -> None:
    if old is None:
        obj["status"] = {"conditions": [], "acceptedNames": {"kind": "", "plural": ""}}


_DEFAULTERS = {
    "Namespace": _namespace,
    "Secret": _secret,
    "Service": _service,
    "Deployment": _deployment,
    "ReplicaSet": _replica_set,
    "StatefulSet": _stateful_set,
    "DaemonSet": _daemon_set,
    "Job": _job,
    "CronJob": _cron_job,
    "PersistentVolumeClaim": _persistent_volume_claim,
    "Pod": _pod,
    "CustomResourceDefinition": _custom_resource_definition,
}
