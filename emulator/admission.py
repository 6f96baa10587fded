"""Validation of objects on create and update, rejected with 422 `Invalid`.

The checks cover names, labels and the parts of the built-in kinds that a
deployment tool most often gets wrong: pod templates, workload selectors, Service
ports, ConfigMap and Secret keys, PersistentVolumeClaim requests and CRD naming.
Update-only rules live in `emulator.immutability`. Messages follow the layout of
kube-apiserver (`<Kind>.<group> "<name>" is invalid: <field>: <problem>`); the
explanatory text after the value is the emulator's own wording.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from typing import Any

from emulator import immutability
from emulator.defaults import NODE_PORT_RANGE, SERVICE_NETWORK, ServiceAllocator
from emulator.errors import FieldError, invalid
from emulator.quantities import parse_quantity
from emulator.resources import ResourceType
from emulator.selectors import match_structured

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

SUBDOMAIN_HINT = (
    "must be a lowercase RFC 1123 subdomain: lowercase letters, digits, '-' and '.', "
    "starting and ending with a letter or digit, at most 253 characters"
)
LABEL_HINT = (
    "must be a lowercase RFC 1123 label: lowercase letters, digits and '-', "
    "starting and ending with a letter or digit, at most 63 characters"
)
DNS_1035_HINT = (
    "must be a lowercase RFC 1035 label: lowercase letters, digits and '-', "
    "starting with a letter and ending with a letter or digit, at most 63 characters"
)
WORKLOAD_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job")


def validate(
    rt: ResourceType,
    obj: dict[str, Any],
    old: dict[str, Any] | None,
    allocator: ServiceAllocator,
) -> None:
    """Raise a 422 `ApiError` listing every problem of `obj`; return if it is valid."""
    errors: list[FieldError] = []
    if old is None:
        errors += _validate_name(rt, obj["metadata"].get("name", ""))
    errors += _validate_labels(obj["metadata"].get("labels"), "metadata.labels")
    checker = _KIND_CHECKS.get(rt.kind)
    if checker is not None:
        errors += checker(obj, old, allocator)
    if old is not None:
        errors += immutability.check(rt.kind, obj, old)
    if errors:
        raise invalid(rt.kind, rt.group, obj["metadata"].get("name", ""), errors)


def _validate_name(rt: ResourceType, name: str) -> list[FieldError]:
    if not name:
        return [
            FieldError.required("metadata.name", "name or generateName is required")
        ]
    if rt.kind == "Namespace":
        pattern, hint, limit = _DNS_LABEL, LABEL_HINT, 63
    elif rt.kind == "Service":
        pattern, hint, limit = _DNS_1035_LABEL, DNS_1035_HINT, 63
    else:
        pattern, hint, limit = _DNS_SUBDOMAIN, SUBDOMAIN_HINT, 253
    if len(name) > limit or not pattern.match(name):
        return [FieldError.invalid("metadata.name", name, hint)]

    return []


def _validate_labels(labels: Any, field: str) -> list[FieldError]:
    errors = []
    for key, value in (labels or {}).items():
        prefix, _, name = key.rpartition("/")
        if (
            (prefix and not _DNS_SUBDOMAIN.match(prefix))
            or len(name) > 63
            or not _LABEL_NAME.match(name)
        ):
            errors.append(
                FieldError.invalid(
                    field,
                    key,
                    "label keys are an optional DNS subdomain prefix "
                    "and '/', then at most 63 letters, digits, '-', '_' or '.', "
                    "starting and ending with a letter or digit",
                )
            )
        if not isinstance(value, str) or (
            value and (len(value) > 63 or not _LABEL_NAME.match(value))
        ):
            errors.append(
                FieldError.invalid(
                    field,
                    value,
                    "label values are empty or at most 63 letters, "
                    "digits, '-', '_' or '.', starting and ending with a letter or digit",
                )
            )
    return errors


def _validate_pod_spec(
    spec: Any, field: str, restart_policies: tuple[str, ...]
) -> list[FieldError]:
    if not isinstance(spec, dict):
        return [FieldError.required(field)]

    errors: list[FieldError] = []
    containers = spec.get("containers")
    if not containers:
        errors.append(FieldError.required(f"{field}.containers"))
    names: set[str] = set()
    for kind in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(kind) or []):
            errors += _validate_container(container, f"{field}.{kind}[{index}]", names)
    policy = spec.get("restartPolicy", "Always")
    if policy not in restart_policies:
        errors.append(
            FieldError.not_supported(
                f"{field}.restartPolicy", policy, list(restart_policies)
            )
        )
    volume_names: set[str] = set()
    for index, volume in enumerate(spec.get("volumes") or []):
        name = volume.get("name")
        if not name:
            errors.append(FieldError.required(f"{field}.volumes[{index}].name"))
        elif name in volume_names:
            errors.append(FieldError.duplicate(f"{field}.volumes[{index}].name", name))
        volume_names.add(name or "")
    return errors


def _validate_container(
    container: Any, field: str, names: set[str]
) -> list[FieldError]:
    if not isinstance(container, dict):
        return [FieldError.invalid(field, container, "must be an object")]

    errors = []
    name = container.get("name")
    if not name:
        errors.append(FieldError.required(f"{field}.name"))
    elif not _DNS_LABEL.match(name) or len(name) > 63:
        errors.append(FieldError.invalid(f"{field}.name", name, LABEL_HINT))
    elif name in names:
        errors.append(FieldError.duplicate(f"{field}.name", name))
    names.add(name or "")
    if not container.get("image"):
        errors.append(FieldError.required(f"{field}.image"))
    for index, port in enumerate(container.get("ports") or []):
        number = port.get("containerPort")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            errors.append(
                FieldError.invalid(
                    f"{field}.ports[{index}].containerPort",
                    number,
                    "must be between 1 and 65535, inclusive",
                )
            )
    for section in ("requests", "limits"):
        for resource, quantity in (
            (container.get("resources") or {}).get(section) or {}
        ).items():
            try:
                parse_quantity(quantity)
            except ValueError:
                errors.append(
                    FieldError.invalid(
                        f"{field}.resources.{section}[{resource}]",
                        quantity,
                        "must be a quantity such as 500m, 2 or 1Gi",
                    )
                )
    return errors


def _validate_workload(
    obj: dict[str, Any], old: dict[str, Any] | None, *_: Any
) -> list[FieldError]:
    kind = obj["kind"]
    spec = obj.get("spec") or {}
    errors: list[FieldError] = []
    replicas = spec.get("replicas")
    if replicas is not None and (not isinstance(replicas, int) or replicas < 0):
        errors.append(
            FieldError.invalid(
                "spec.replicas", replicas, "must be greater than or equal to 0"
            )
        )
    policies = {"Job": ("OnFailure", "Never")}.get(kind, ("Always",))
    template = spec.get("template")
    if not isinstance(template, dict):
        return errors + [FieldError.required("spec.template")]

    errors += _validate_pod_spec(template.get("spec"), "spec.template.spec", policies)
    labels = (template.get("metadata") or {}).get("labels") or {}
    errors += _validate_labels(labels, "spec.template.metadata.labels")

    selector = spec.get("selector")
    if selector is None:
        return errors + [FieldError.required("spec.selector")]

    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        errors.append(
            FieldError.invalid(
                "spec.selector",
                selector,
                f"empty selector is invalid for {kind.lower()}",
            )
        )
    elif not match_structured(selector, labels):
        errors.append(
            FieldError.invalid(
                "spec.template.metadata.labels",
                labels,
                "`selector` does not match template `labels`",
            )
        )
    return errors


def _validate_pod(obj: dict[str, Any], *_: Any) -> list[FieldError]:
    return _validate_pod_spec(obj.get("spec"), "spec", ("Always", "OnFailure", "Never"))


def _validate_service(
    obj: dict[str, Any], old: dict[str, Any] | None, allocator: ServiceAllocator
) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errors: list[FieldError] = []
    service_type = spec.get("type", "ClusterIP")
    types = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]
    if service_type not in types:
        return [FieldError.not_supported("spec.type", service_type, types)]

    if service_type == "ExternalName":
        if not spec.get("externalName"):
            errors.append(FieldError.required("spec.externalName"))
        return errors

    ports = spec.get("ports") or []
    if not ports and spec.get("clusterIP") != "None":
        errors.append(FieldError.required("spec.ports"))
    names: set[str] = set()
    for index, port in enumerate(ports):
        field = f"spec.ports[{index}]"
        number = port.get("port")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            errors.append(
                FieldError.invalid(
                    f"{field}.port", number, "must be between 1 and 65535, inclusive"
                )
            )
        target = port.get("targetPort")
        if isinstance(target, int) and not 1 <= target <= 65535:
            errors.append(
                FieldError.invalid(
                    f"{field}.targetPort",
                    target,
                    "must be between 1 and 65535, inclusive",
                )
            )
        name = port.get("name")
        if len(ports) > 1 and not name:
            errors.append(FieldError.required(f"{field}.name"))
        elif name in names:
            errors.append(FieldError.duplicate(f"{field}.name", name))
        names.add(name or "")
        node_port = port.get("nodePort")
        if node_port is not None and node_port not in NODE_PORT_RANGE:
            errors.append(
                FieldError.invalid(
                    f"{field}.nodePort",
                    node_port,
                    "provided port is not in the valid range 30000-32767",
                )
            )
    errors += _validate_cluster_ip(obj, old, allocator)
    return errors


def _validate_cluster_ip(
    obj: dict[str, Any], old: dict[str, Any] | None, allocator: ServiceAllocator
) -> list[FieldError]:
    ip = (obj.get("spec") or {}).get("clusterIP")
    if not ip or ip == "None" or old is not None:
        return []

    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return [
            FieldError.invalid("spec.clusterIPs", [ip], "must be a valid IP address")
        ]
    if address not in SERVICE_NETWORK:
        return [
            FieldError.invalid(
                "spec.clusterIPs",
                [ip],
                f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range "
                f"{SERVICE_NETWORK}",
            )
        ]
    owner = allocator.ip_owner(ip)
    if owner is not None and owner != obj["metadata"].get("uid"):
        return [
            FieldError.invalid(
                "spec.clusterIPs",
                [ip],
                f"failed to allocate IP {ip}: provided IP is already allocated",
            )
        ]
    return []


def _validate_config_data(
    obj: dict[str, Any], old: dict[str, Any] | None, *_: Any
) -> list[FieldError]:
    errors = []
    for section in ("data", "binaryData"):
        for key, value in (obj.get(section) or {}).items():
            if len(key) > 253 or not _CONFIG_KEY.match(key):
                errors.append(
                    FieldError.invalid(
                        f"{section}[{key}]",
                        key,
                        "keys must consist of letters, digits, '-', '_' or '.'",
                    )
                )
            if obj["kind"] == "Secret" or section == "binaryData":
                errors += _validate_base64(f"{section}[{key}]", value)
    return errors


def _validate_base64(field: str, value: Any) -> list[FieldError]:
    if not isinstance(value, str):
        return [
            FieldError.invalid(
                field, "<secret contents redacted>", "must be a base64-encoded string"
            )
        ]
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return [
            FieldError.invalid(
                field, "<secret contents redacted>", "must be valid base64 data"
            )
        ]
    return []


def _validate_claim(
    obj: dict[str, Any], old: dict[str, Any] | None, *_: Any
) -> list[FieldError]:
    if old is not None:
        return []

    spec = obj.get("spec") or {}
    errors = []
    if not spec.get("accessModes"):
        errors.append(
            FieldError.required(
                "spec.accessModes", "at least 1 access mode is required"
            )
        )
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if storage is None:
        errors.append(FieldError.required("spec.resources[storage]"))
    else:
        try:
            parse_quantity(storage)
        except ValueError:
            errors.append(
                FieldError.invalid(
                    "spec.resources[storage]", storage, "must be a quantity such as 1Gi"
                )
            )
    return errors


def _validate_crd(obj: dict[str, Any], *_: Any) -> list[FieldError]:
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    errors = []
    for field in ("plural", "kind"):
        if not names.get(field):
            errors.append(FieldError.required(f"spec.names.{field}"))
    if not spec.get("group"):
        errors.append(FieldError.required("spec.group"))
    expected = f"{names.get('plural')}.{spec.get('group')}"
    if obj["metadata"]["name"] != expected:
        errors.append(
            FieldError.invalid(
                "metadata.name",
                obj["metadata"]["name"],
                f'must be spec.names.plural+"."+spec.group, here {expected!r}',
            )
        )
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        errors.append(
            FieldError.not_supported("spec.scope", scope, ["Cluster", "Namespaced"])
        )
    versions = spec.get("versions") or []
    if not versions:
        errors.append(
            FieldError.required("spec.versions", "must have at least one version")
        )
    elif sum(1 for version in versions if version.get("storage")) != 1:
        errors.append(
            FieldError.invalid(
                "spec.versions",
                [v.get("name") for v in versions],
                "must have exactly one version marked as storage version",
            )
        )
    return errors


_KIND_CHECKS = {
    **dict.fromkeys(WORKLOAD_KINDS, _validate_workload),
    "Pod": _validate_pod,
    "Service": _validate_service,
    "ConfigMap": _validate_config_data,
    "Secret": _validate_config_data,
    "PersistentVolumeClaim": _validate_claim,
    "CustomResourceDefinition": _validate_crd,
}
