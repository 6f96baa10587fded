"""The Kubernetes objects of one component, each named after the component."""

from __future__ import annotations

import base64
import copy
from typing import Any

from oam import kinds
from oam.model import Application, Component
from oam.render import labels, pods

DEFAULT_SIZE = "1Gi"
Manifest = dict[str, Any]


def render_component(application: Application, component: Component) -> list[Manifest]:
    """Every object the component needs, in no particular order (the planner sorts)."""
    if component.type == "k8s-objects":
        return [
            _given_object(application, component, item)
            for item in component.properties.objects
        ]

    objects: list[Manifest] = []
    if component.type == "webservice":
        objects.append(_deployment(application, component))
        if component.properties.ports:
            objects.append(_service(application, component, headless=False))
    elif component.type == "store":
        objects.append(_statefulset(application, component))
        objects.append(_service(application, component, headless=True))
    elif component.type == "job":
        objects.append(_job(application, component))
    elif component.type == "config":
        objects.append(_config_map(application, component))
    elif component.type == "secret":
        objects.append(_secret(application, component))

    objects += _claims(application, component)
    objects += _rbac(application, component)
    if component.traits.ingress:
        objects.append(_ingress(application, component))
    return objects


def _metadata(
    application: Application, component: Component, name: str | None = None
) -> dict[str, Any]:
    return {
        "name": name or component.name,
        "namespace": application.namespace,
        "labels": labels.object_labels(application, component),
    }


def _selector(application: Application, component: Component) -> dict[str, Any]:
    return {"matchLabels": labels.selector_labels(application, component)}


def _deployment(application: Application, component: Component) -> Manifest:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(application, component),
        "spec": {
            "replicas": component.replicas,
            "selector": _selector(application, component),
            "template": pods.pod_template(application, component),
        },
    }


def _statefulset(application: Application, component: Component) -> Manifest:
    spec: dict[str, Any] = {
        "replicas": component.replicas,
        "serviceName": component.name,
        "selector": _selector(application, component),
        "template": pods.pod_template(application, component),
    }
    templates = [
        {
            "metadata": {
                "name": storage.name,
                "labels": labels.common_labels(application, component),
            },
            "spec": _claim_spec(storage.size, storage.storage_class),
        }
        for storage in component.traits.storage
        if pods.uses_claim_template(component, storage)
    ]
    if templates:
        spec["volumeClaimTemplates"] = templates
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _metadata(application, component),
        "spec": spec,
    }


def _job(application: Application, component: Component) -> Manifest:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(application, component),
        "spec": {"template": pods.pod_template(application, component)},
    }


def _service(
    application: Application, component: Component, *, headless: bool
) -> Manifest:
    spec: dict[str, Any] = {"selector": labels.selector_labels(application, component)}
    if headless:
        spec["clusterIP"] = "None"
    else:
        spec["type"] = "ClusterIP"
    ports = component.properties.ports
    if ports:
        spec["ports"] = [
            {
                "name": port.name or f"{port.protocol.lower()}-{port.port}",
                "port": port.port,
                "targetPort": port.port,
                "protocol": port.protocol,
            }
            for port in ports
        ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(application, component),
        "spec": spec,
    }


def _config_map(application: Application, component: Component) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(application, component),
        "data": dict(component.properties.conf),
    }


def _secret(application: Application, component: Component) -> Manifest:
    # `data` (base64) rather than `stringData`: the server turns stringData into data,
    # so applying stringData would never match the live object and always look drifted.
    encoded = {
        key: base64.b64encode(value.encode("utf-8")).decode("ascii")
        for key, value in component.properties.secret.items()
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(application, component),
        "type": "Opaque",
        "data": encoded,
    }


def _claim_spec(size: str | None, storage_class: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size or DEFAULT_SIZE}},
    }
    if storage_class:
        spec["storageClassName"] = storage_class
    return spec


def _claims(application: Application, component: Component) -> list[Manifest]:
    claims = []
    for storage in component.traits.storage:
        if storage.type != "persistent" or not storage.create:
            continue
        if pods.uses_claim_template(component, storage):
            continue
        claims.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": _metadata(
                    application, component, pods.claim_name(component, storage)
                ),
                "spec": _claim_spec(storage.size, storage.storage_class),
            }
        )
    return claims


def cluster_role_name(application: Application, account: str) -> str:
    """ClusterRoles are not namespaced, so their name carries the namespace."""
    return f"{application.namespace}-{account}"


def _rbac(application: Application, component: Component) -> list[Manifest]:
    objects: list[Manifest] = []
    accounts: set[str] = set()
    for entry in component.traits.rbac:
        account = entry.service_account or component.name
        if account not in accounts:
            accounts.add(account)
            objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": _metadata(application, component, account),
                }
            )
        if not entry.rules:
            continue
        rules = [
            rule.model_dump(by_alias=True, exclude_defaults=True)
            for rule in entry.rules
        ]
        for rule in rules:
            rule.setdefault("verbs", [])
        subject = {
            "kind": "ServiceAccount",
            "name": account,
            "namespace": application.namespace,
        }
        if entry.cluster_scope:
            name = cluster_role_name(application, account)
            metadata = _metadata(application, component, name)
            del metadata["namespace"]
            objects.append(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRole",
                    "metadata": metadata,
                    "rules": rules,
                }
            )
            objects.append(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRoleBinding",
                    "metadata": copy.deepcopy(metadata),
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": name,
                    },
                    "subjects": [subject],
                }
            )
        else:
            objects.append(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "Role",
                    "metadata": _metadata(application, component, account),
                    "rules": rules,
                }
            )
            objects.append(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": _metadata(application, component, account),
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "Role",
                        "name": account,
                    },
                    "subjects": [subject],
                }
            )
    return objects


def _ingress(application: Application, component: Component) -> Manifest:
    ports = component.properties.ports
    rules: dict[str | None, list[dict[str, Any]]] = {}
    tls: dict[str, list[str]] = {}
    class_name = None
    for entry in component.traits.ingress:
        port = entry.port or ports[0].port
        path = {
            "path": entry.path,
            "pathType": entry.path_type,
            "backend": {"service": {"name": component.name, "port": {"number": port}}},
        }
        rules.setdefault(entry.host, []).append(path)
        if entry.tls_secret_name and entry.host:
            hosts = tls.setdefault(entry.tls_secret_name, [])
            if entry.host not in hosts:
                hosts.append(entry.host)
        class_name = class_name or entry.ingress_class_name
    spec: dict[str, Any] = {}
    if class_name:
        spec["ingressClassName"] = class_name
    spec["rules"] = [
        ({"host": host} if host else {}) | {"http": {"paths": paths}}
        for host, paths in rules.items()
    ]
    if tls:
        spec["tls"] = [
            {"hosts": hosts, "secretName": secret} for secret, hosts in tls.items()
        ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _metadata(application, component),
        "spec": spec,
    }


def _given_object(
    application: Application, component: Component, item: dict[str, Any]
) -> Manifest:
    manifest = copy.deepcopy(item)
    metadata = manifest.setdefault("metadata", {})
    metadata["labels"] = {
        **(metadata.get("labels") or {}),
        **labels.common_labels(application, component),
    }
    if kinds.is_namespaced(str(manifest.get("kind"))) and not metadata.get("namespace"):
        metadata["namespace"] = application.namespace
    return manifest
