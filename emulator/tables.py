"""Server-side printing: `meta.k8s.io/v1` Table responses for `kubectl get`.

kubectl requests `application/json;as=Table;v=v1;g=meta.k8s.io`. The emulator
renders the columns that kubectl shows for the common kinds, and NAME and AGE for
every other kind. Each row carries the object's metadata (or the whole object
with `includeObject=Object`), which kubectl needs for `-A` and `-o name`.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from emulator.resources import ResourceType

Row = Callable[[dict[str, Any]], list[Any]]


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def _age(obj: dict[str, Any]) -> str:
    created = obj["metadata"].get("creationTimestamp")
    if not created:
        return "<unknown>"
    then = datetime.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.UTC
    )
    seconds = int((datetime.datetime.now(datetime.UTC) - then).total_seconds())
    if seconds < 120:
        return f"{max(seconds, 0)}s"
    if seconds < 3600:
        return (
            f"{seconds // 60}m{seconds % 60}s" if seconds < 600 else f"{seconds // 60}m"
        )
    if seconds < 86400:
        return (
            f"{seconds // 3600}h{(seconds % 3600) // 60}m"
            if seconds < 36000
            else f"{seconds // 3600}h"
        )
    return f"{seconds // 86400}d"


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("status") or {}


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("spec") or {}


def _pod_row(obj: dict[str, Any]) -> list[Any]:
    statuses = _status(obj).get("containerStatuses") or []
    ready = sum(1 for status in statuses if status.get("ready"))
    total = len(_spec(obj).get("containers") or [])
    reason = _status(obj).get("phase", "Pending")
    for status in statuses:
        waiting = (status.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
    if obj["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    restarts = sum(status.get("restartCount", 0) for status in statuses)
    return [f"{ready}/{total}", reason, restarts]


def _service_row(obj: dict[str, Any]) -> list[Any]:
    spec = _spec(obj)
    ports = ",".join(
        f"{port.get('port')}{':' + str(port['nodePort']) if port.get('nodePort') else ''}/{port.get('protocol', 'TCP')}"
        for port in spec.get("ports") or []
    )
    external = spec.get("externalName") or "<none>"
    if spec.get("type") == "LoadBalancer":
        external = "<pending>"
    return [
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP", "<none>"),
        external,
        ports or "<none>",
    ]


def _job_row(obj: dict[str, Any]) -> list[Any]:
    conditions = {
        c.get("type"): c.get("status") for c in _status(obj).get("conditions") or []
    }
    state = (
        "Complete"
        if conditions.get("Complete") == "True"
        else ("Failed" if conditions.get("Failed") == "True" else "Running")
    )
    return [
        state,
        f"{_status(obj).get('succeeded', 0)}/{_spec(obj).get('completions', 1)}",
    ]


def _claim_row(obj: dict[str, Any]) -> list[Any]:
    status = _status(obj)
    return [
        status.get("phase", "Pending"),
        _spec(obj).get("volumeName", ""),
        (status.get("capacity") or {}).get("storage", ""),
        ",".join(_access_mode(mode) for mode in status.get("accessModes") or []),
        _spec(obj).get("storageClassName", "<unset>"),
    ]


def _access_mode(mode: str) -> str:
    return {
        "ReadWriteOnce": "RWO",
        "ReadOnlyMany": "ROX",
        "ReadWriteMany": "RWX",
        "ReadWriteOncePod": "RWOP",
    }.get(mode, mode)


_COLUMNS: dict[str, tuple[list[str], Row]] = {
    "Deployment": (
        ["Ready", "Up-to-date", "Available"],
        lambda o: [
            f"{_status(o).get('readyReplicas', 0)}/{_spec(o).get('replicas', 1)}",
            _status(o).get("updatedReplicas", 0),
            _status(o).get("availableReplicas", 0),
        ],
    ),
    "StatefulSet": (
        ["Ready"],
        lambda o: [
            f"{_status(o).get('readyReplicas', 0)}/{_spec(o).get('replicas', 1)}"
        ],
    ),
    "ReplicaSet": (
        ["Desired", "Current", "Ready"],
        lambda o: [
            _spec(o).get("replicas", 1),
            _status(o).get("replicas", 0),
            _status(o).get("readyReplicas", 0),
        ],
    ),
    "DaemonSet": (
        ["Desired", "Current", "Ready", "Up-to-date", "Available"],
        lambda o: [
            _status(o).get(field, 0)
            for field in (
                "desiredNumberScheduled",
                "currentNumberScheduled",
                "numberReady",
                "updatedNumberScheduled",
                "numberAvailable",
            )
        ],
    ),
    "Pod": (["Ready", "Status", "Restarts"], _pod_row),
    "Service": (["Type", "Cluster-IP", "External-IP", "Port(s)"], _service_row),
    "ConfigMap": (
        ["Data"],
        lambda o: [len(o.get("data") or {}) + len(o.get("binaryData") or {})],
    ),
    "Secret": (
        ["Type", "Data"],
        lambda o: [o.get("type", "Opaque"), len(o.get("data") or {})],
    ),
    "Job": (["Status", "Completions"], _job_row),
    "PersistentVolumeClaim": (
        ["Status", "Volume", "Capacity", "Access Modes", "StorageClass"],
        _claim_row,
    ),
    "Namespace": (["Status"], lambda o: [_status(o).get("phase", "Active")]),
    "Node": (
        ["Status", "Roles", "Version"],
        lambda o: ["Ready", "control-plane", "v1.31.0-oamflow-emulator"],
    ),
}


def to_table(
    rt: ResourceType, body: dict[str, Any], params: dict[str, str]
) -> dict[str, Any]:
    """Convert a single object or a list response into a Table."""
    items = body["items"] if "items" in body else [body]
    extra_names, row = _COLUMNS.get(rt.kind, ([], lambda obj: []))
    columns = [
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "description": "Name of the object",
            "priority": 0,
        }
    ]
    columns += [
        {
            "name": name,
            "type": "string",
            "format": "",
            "description": name,
            "priority": 0,
        }
        for name in extra_names
    ]
    columns.append(
        {
            "name": "Age",
            "type": "string",
            "format": "",
            "description": "Time since creation",
            "priority": 0,
        }
    )
    include = params.get("includeObject", "Metadata")
    rows = []
    for obj in items:
        entry: dict[str, Any] = {
            "cells": [obj["metadata"]["name"], *row(obj), _age(obj)]
        }
        if include == "Object":
            entry["object"] = obj
        elif include != "None":
            entry["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(entry)
    metadata = dict(body.get("metadata") or {}) if "items" in body else {}
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    }
