"""The pod template of a workload component: containers, volumes, probes, resources."""

from __future__ import annotations

from typing import Any

from oam.model import Application, Component, Container, Probe, Storage
from oam.render import labels


def claim_name(component: Component, storage: Storage) -> str:
    """The PersistentVolumeClaim a persistent storage entry uses outside claim templates."""
    return storage.claim_name or f"{component.name}-{storage.name}"


def uses_claim_template(component: Component, storage: Storage) -> bool:
    return component.type == "store" and storage.type == "persistent" and storage.create


def pod_template(application: Application, component: Component) -> dict[str, Any]:
    """The `spec.template` of the component's Deployment, StatefulSet or Job."""
    spec: dict[str, Any] = {}
    accounts = {
        entry.service_account or component.name for entry in component.traits.rbac
    }
    if accounts:
        spec["serviceAccountName"] = sorted(accounts)[0]
    if component.traits.init:
        spec["initContainers"] = [
            _extra_container(item) for item in component.traits.init
        ]
    spec["containers"] = [_main_container(component)]
    spec["containers"] += [_extra_container(item) for item in component.traits.sidecar]
    volumes = [
        volume
        for storage in component.traits.storage
        if (volume := _volume(component, storage)) is not None
    ]
    if volumes:
        spec["volumes"] = volumes
    if component.type == "job":
        spec["restartPolicy"] = "Never"
    return {
        "metadata": {"labels": labels.object_labels(application, component)},
        "spec": spec,
    }


def _main_container(component: Component) -> dict[str, Any]:
    properties = component.properties
    traits = component.traits
    container: dict[str, Any] = {
        "name": component.name,
        "image": component.effective_image,
    }
    if properties.command:
        container["command"] = list(properties.command)
    if properties.args:
        container["args"] = list(properties.args)
    if properties.ports:
        container["ports"] = [
            {"containerPort": port.port, "protocol": port.protocol}
            | ({"name": port.name} if port.name else {})
            for port in properties.ports
        ]
    env = [{"name": key, "value": value} for key, value in properties.env.items()]
    env += [
        {"name": item.name, "valueFrom": _value_from(item.value_from)}
        for item in traits.envs
    ]
    if env:
        container["env"] = env
    if traits.env_from:
        container["envFrom"] = [
            {"configMapRef": {"name": item.source_name}}
            if item.type == "configMap"
            else {"secretRef": {"name": item.source_name}}
            for item in traits.env_from
        ]
    resources = _resources(component)
    if resources:
        container["resources"] = resources
    for probe in traits.probes:
        container[f"{probe.type}Probe"] = _probe(probe)
    mounts = [_mount(storage) for storage in traits.storage]
    if mounts:
        container["volumeMounts"] = mounts
    return container


def _extra_container(item: Container) -> dict[str, Any]:
    container: dict[str, Any] = {"name": item.name, "image": item.image}
    if item.command:
        container["command"] = list(item.command)
    if item.args:
        container["args"] = list(item.args)
    if item.env:
        container["env"] = [
            {"name": key, "value": value} for key, value in item.env.items()
        ]
    return container


def _value_from(value_from: Any) -> dict[str, Any]:
    if value_from.config is not None:
        return {
            "configMapKeyRef": {
                "name": value_from.config.name,
                "key": value_from.config.key,
            }
        }
    if value_from.secret is not None:
        return {
            "secretKeyRef": {
                "name": value_from.secret.name,
                "key": value_from.secret.key,
            }
        }
    return {"fieldRef": {"fieldPath": value_from.field}}


def _resources(component: Component) -> dict[str, Any]:
    resources = component.traits.resources
    if resources is None:
        return {}
    amounts: dict[str, str] = {}
    if resources.cpu is not None:
        amounts["cpu"] = resources.cpu
    if resources.memory is not None:
        amounts["memory"] = resources.memory
    limits: dict[str, Any] = dict(amounts)
    if resources.gpu:
        limits["nvidia.com/gpu"] = str(resources.gpu)
    result: dict[str, Any] = {}
    if amounts:
        result["requests"] = dict(amounts)
    if limits:
        result["limits"] = limits
    return result


def _probe(probe: Probe) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if probe.exec is not None:
        result["exec"] = {"command": list(probe.exec.command)}
    elif probe.http_get is not None:
        action = probe.http_get
        result["httpGet"] = {
            "path": action.path,
            "port": action.port,
            "scheme": action.scheme,
        }
        if action.host:
            result["httpGet"]["host"] = action.host
        if action.http_headers:
            result["httpGet"]["httpHeaders"] = [
                {"name": header.name, "value": header.value}
                for header in action.http_headers
            ]
    elif probe.tcp_socket is not None:
        result["tcpSocket"] = {"port": probe.tcp_socket.port}
    timings = {
        "initialDelaySeconds": probe.initial_delay_seconds,
        "periodSeconds": probe.period_seconds,
        "timeoutSeconds": probe.timeout_seconds,
        "successThreshold": probe.success_threshold,
        "failureThreshold": probe.failure_threshold,
    }
    result.update({key: value for key, value in timings.items() if value is not None})
    return result


def _mount(storage: Storage) -> dict[str, Any]:
    mount: dict[str, Any] = {"name": storage.name, "mountPath": storage.mount_path}
    if storage.sub_path:
        mount["subPath"] = storage.sub_path
    if storage.read_only:
        mount["readOnly"] = True
    return mount


def _volume(component: Component, storage: Storage) -> dict[str, Any] | None:
    if uses_claim_template(component, storage):
        return None
    if storage.type == "persistent":
        source: dict[str, Any] = {"claimName": claim_name(component, storage)}
        if storage.read_only:
            source["readOnly"] = True
        return {"name": storage.name, "persistentVolumeClaim": source}
    if storage.type == "ephemeral":
        empty_dir = {"sizeLimit": storage.size} if storage.size else {}
        return {"name": storage.name, "emptyDir": empty_dir}
    if storage.type == "config":
        return {"name": storage.name, "configMap": {"name": storage.source_name}}
    return {"name": storage.name, "secret": {"secretName": storage.source_name}}
