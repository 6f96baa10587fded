"""Checks of one component: its type's rules, properties, traits and references.

Each check appends problems with the component's path and carries on.
"""

from __future__ import annotations

from oam import errors, names, units
from oam.model import Component
from oam.render import labels as render_labels
from oam.render import pods

MAX_CONFIG_BYTES = 1024 * 1024
MAX_STORE_NAME = (
    52  # the StatefulSet controller adds an 11-character revision hash label
)
WORKLOAD_TYPES = ("webservice", "store", "job")
Path = list[str | int]


def check_component(
    component: Component,
    path: Path,
    declared: dict[str, Component],
    problems: errors.ProblemList,
) -> None:
    properties = component.properties
    traits = component.traits
    kind = component.type

    if component.image and properties.image and component.image != properties.image:
        problems.add(
            [*path, "image"],
            f"{component.image!r} differs from properties.image {properties.image!r}; give the image once",
        )
    if kind in WORKLOAD_TYPES and not component.effective_image:
        problems.add(
            [*path, "image"],
            f"is required for a {kind} component (or set properties.image)",
        )
    if kind not in WORKLOAD_TYPES and component.effective_image:
        problems.add(
            [*path, "image"], f"a {kind} component runs no container; remove the image"
        )
    if kind in ("webservice", "store"):
        problem = names.check_dns1035_label(component.name)
        if problem:
            problems.add(
                [*path, "name"], f"invalid value {component.name!r}: {problem}"
            )
    if kind == "store" and len(component.name) > MAX_STORE_NAME:
        problems.add(
            [*path, "name"],
            f"a store name must be at most {MAX_STORE_NAME} characters, because the StatefulSet"
            f" controller adds a revision hash to its pods' labels (it has {len(component.name)})",
        )

    _check_properties_fit_type(component, path, problems)
    _check_ports(component, path, problems)
    _check_maps(component, path, problems)
    if kind == "k8s-objects":
        _check_given_objects(component, path, problems)
    if kind in WORKLOAD_TYPES:
        _check_storage(component, path, declared, problems)
        _check_ingress(component, path, problems)
        _check_probes(component, path, problems)
        _check_env(component, path, declared, problems)
        _check_containers(component, path, problems)
        _check_rbac(component, path, problems)
    elif traits != type(traits)():
        given = sorted(name for name, value in traits if value)
        problems.add(
            [*path, "traits"],
            f"a {kind} component takes no traits (given: {', '.join(given)})",
        )


def _check_properties_fit_type(
    component: Component, path: list[str | int], problems: errors.ProblemList
) -> None:
    properties = component.properties
    kind = component.type
    allowed = {
        "webservice": {"image", "ports", "env", "command", "args", "labels"},
        "store": {"image", "ports", "env", "command", "args", "labels"},
        "job": {"image", "env", "command", "args", "labels"},
        "config": {"conf", "labels"},
        "secret": {"secret", "labels"},
        "k8s-objects": {"objects"},
    }[kind]
    for field_name, value in properties:
        if value and field_name not in allowed:
            key = "objects" if field_name == "objects" else field_name
            choices = ", ".join(sorted(allowed))
            problems.add(
                [*path, "properties", key],
                f"is not used by a {kind} component; its properties are: {choices}",
            )
    if kind == "k8s-objects" and not properties.objects:
        problems.add(
            [*path, "properties", "objects"],
            "a k8s-objects component needs at least one manifest",
        )


def _check_ports(
    component: Component, path: list[str | int], problems: errors.ProblemList
) -> None:
    seen_numbers: dict[tuple[int, str], int] = {}
    seen_names: dict[str, int] = {}
    for index, port in enumerate(component.properties.ports):
        where = [*path, "properties", "ports", index]
        key = (port.port, port.protocol)
        if key in seen_numbers:
            problems.add(
                [*where, "port"],
                f"duplicate port {port.port}/{port.protocol} (also ports[{seen_numbers[key]}])",
            )
        seen_numbers.setdefault(key, index)
        name = port.name or f"{port.protocol.lower()}-{port.port}"
        if name in seen_names:
            problems.add(
                [*where, "name"],
                f"duplicate port name {name!r} (also ports[{seen_names[name]}])",
            )
        seen_names.setdefault(name, index)


def _check_maps(
    component: Component, path: list[str | int], problems: errors.ProblemList
) -> None:
    properties = component.properties
    for field_name in ("conf", "secret"):
        values = getattr(properties, field_name)
        for key in values:
            problem = names.check_config_key(key)
            if problem:
                problems.add(
                    [*path, "properties", field_name, key], f"invalid key: {problem}"
                )
        size = sum(
            len(key.encode()) + len(value.encode()) for key, value in values.items()
        )
        if size > MAX_CONFIG_BYTES:
            problems.add(
                [*path, "properties", field_name],
                f"holds {size} bytes; Kubernetes limits a ConfigMap or Secret to {MAX_CONFIG_BYTES} bytes",
            )
    for key in properties.env:
        problem = names.check_env_name(key)
        if problem:
            problems.add([*path, "properties", "env", key], f"invalid name: {problem}")
    for key, value in properties.labels.items():
        problem = names.check_label_key(key)
        if problem:
            problems.add(
                [*path, "properties", "labels", key], f"invalid key: {problem}"
            )
        elif key in render_labels.RESERVED:
            problems.add(
                [*path, "properties", "labels", key],
                "is set by oamflow and cannot be overridden",
            )
        problem = names.check_label_value(value)
        if problem:
            problems.add(
                [*path, "properties", "labels", key],
                f"invalid value {value!r}: {problem}",
            )


def _check_given_objects(
    component: Component, path: list[str | int], problems: errors.ProblemList
) -> None:
    for index, item in enumerate(component.properties.objects):
        where = [*path, "properties", "objects", index]
        for field_name in ("apiVersion", "kind"):
            value = item.get(field_name)
            if not isinstance(value, str) or not value:
                problems.add(
                    [*where, field_name], "is required and must be a non-empty string"
                )
        metadata = item.get("metadata")
        if not isinstance(metadata, dict):
            problems.add(
                [*where, "metadata"], "is required and must be a mapping with a name"
            )
            continue
        name = metadata.get("name")
        if not isinstance(name, str):
            problems.add(
                [*where, "metadata", "name"], "is required and must be a string"
            )
        else:
            problem = names.check_subdomain(name)
            if problem:
                problems.add(
                    [*where, "metadata", "name"], f"invalid value {name!r}: {problem}"
                )
        namespace = metadata.get("namespace")
        if namespace is not None and (
            not isinstance(namespace, str) or names.check_dns_label(namespace)
        ):
            problems.add(
                [*where, "metadata", "namespace"],
                f"invalid value {errors.show_value(namespace)}: must be a DNS-1123 label",
            )
        if "generateName" in metadata:
            problems.add(
                [*where, "metadata", "generateName"],
                "is not supported: server-side apply needs a fixed name",
            )


def _reference_problem(
    name: str, wanted: str, declared: dict[str, Component], key: str | None = None
) -> str | None:
    """A name that matches a component must be a component that renders that object.

    With `key`, the referenced config or secret component must also hold that key.
    """
    component = declared.get(name)
    if component is None:
        return None
    if component.type != wanted:
        kind = "ConfigMap" if wanted == "config" else "Secret"
        return f"names component {name!r} of type {component.type}, which renders no {kind}"
    if key is not None:
        values = (
            component.properties.conf
            if wanted == "config"
            else component.properties.secret
        )
        if key not in values:
            known = ", ".join(values) or "none"
            return f"key {key!r} is not in component {name!r} (its keys: {known})"
    return None


def _check_storage(
    component: Component,
    path: list[str | int],
    declared: dict[str, Component],
    problems: errors.ProblemList,
) -> None:
    seen_names: dict[str, int] = {}
    seen_paths: dict[str, int] = {}
    for index, storage in enumerate(component.traits.storage):
        where = [*path, "traits", "storage", index]
        if storage.name in seen_names:
            problems.add(
                [*where, "name"],
                f"duplicate storage name {storage.name!r} (also storage[{seen_names[storage.name]}])",
            )
        seen_names.setdefault(storage.name, index)
        if not storage.mount_path.startswith("/"):
            problems.add(
                [*where, "mountPath"],
                f"invalid value {storage.mount_path!r}: must be an absolute path",
            )
        elif storage.mount_path in seen_paths:
            problems.add(
                [*where, "mountPath"],
                f"duplicate mount path {storage.mount_path!r} (also storage[{seen_paths[storage.mount_path]}])",
            )
        seen_paths.setdefault(storage.mount_path, index)
        if storage.size is not None and units.parse_quantity(storage.size) <= 0:
            problems.add(
                [*where, "size"],
                f"invalid value {storage.size!r}: must be greater than zero, such as '1Gi'",
            )
        if storage.sub_path and (
            storage.sub_path.startswith("/") or ".." in storage.sub_path.split("/")
        ):
            problems.add(
                [*where, "subPath"],
                f"invalid value {storage.sub_path!r}: must be a relative path without '..'",
            )

        if storage.type in ("config", "secret"):
            if not storage.source_name:
                problems.add(
                    [*where, "sourceName"],
                    f"is required for {storage.type} storage: the {'ConfigMap' if storage.type == 'config' else 'Secret'} to mount",
                )
            else:
                problem = _reference_problem(
                    storage.source_name, storage.type, declared
                )
                if problem:
                    problems.add([*where, "sourceName"], problem)
            for field_name in ("size", "storage_class", "claim_name"):
                if getattr(storage, field_name):
                    problems.add(
                        [*where, _camel(field_name)],
                        f"does not apply to {storage.type} storage",
                    )
        elif storage.type == "ephemeral":
            for field_name in ("storage_class", "claim_name", "source_name"):
                if getattr(storage, field_name):
                    problems.add(
                        [*where, _camel(field_name)],
                        "does not apply to ephemeral storage",
                    )
        else:
            if storage.source_name:
                problems.add(
                    [*where, "sourceName"],
                    "does not apply to persistent storage; use claimName",
                )
            if not storage.create and (storage.size or storage.storage_class):
                problems.add(
                    [*where, "create"],
                    "is false (mount an existing claim), so size and storageClass cannot apply",
                )
            if component.type == "store" and storage.create and storage.claim_name:
                problems.add(
                    [*where, "claimName"],
                    "a store creates one claim per replica from a template; set create: false to mount an existing claim",
                )
            name = pods.claim_name(component, storage)
            problem = names.check_subdomain(name)
            if problem:
                problems.add(
                    [*where, "claimName"], f"invalid claim name {name!r}: {problem}"
                )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _check_ingress(
    component: Component, path: list[str | int], problems: errors.ProblemList
) -> None:
    entries = component.traits.ingress
    if not entries:
        return
    where = [*path, "traits", "ingress"]
    if component.type != "webservice" or not component.properties.ports:
        problems.add(
            where,
            "needs a webservice component with ports: the Ingress routes to its Service",
        )
        return
    ports = {port.port for port in component.properties.ports}
    classes = {
        entry.ingress_class_name for entry in entries if entry.ingress_class_name
    }
    if len(classes) > 1:
        problems.add(
            where,
            f"all entries of a component share one ingressClassName (given: {', '.join(sorted(classes))})",
        )
    seen: dict[tuple[str | None, str], int] = {}
    for index, entry in enumerate(entries):
        if entry.port is not None and entry.port not in ports:
            valid = ", ".join(str(port) for port in sorted(ports))
            problems.add(
                [*where, index, "port"],
                f"invalid value {entry.port}; valid choices: {valid} (the component's ports)",
            )
        if not entry.path.startswith("/"):
            problems.add(
                [*where, index, "path"],
                f"invalid value {entry.path!r}: must start with '/'",
            )
        if entry.host is not None:
            host = entry.host[2:] if entry.host.startswith("*.") else entry.host
            if names.check_subdomain(host) or _is_ip_address(host):
                problems.add(
                    [*where, index, "host"],
                    f"invalid value {entry.host!r}: must be a DNS name such as 'app.example.com'",
                )
        if entry.tls_secret_name and not entry.host:
            problems.add(
                [*where, index, "tlsSecretName"],
                "needs a host: TLS certificates are chosen by host",
            )
        key = (entry.host, entry.path)
        if key in seen:
            problems.add(
                [*where, index],
                f"duplicate route for host {entry.host!r} and path {entry.path!r} (also ingress[{seen[key]}])",
            )
        seen.setdefault(key, index)


def _is_ip_address(host: str) -> bool:
    parts = host.split(".")
    return len(parts) == 4 and all(part.isdigit() for part in parts)


def _check_probes(
    component: Component, path: list[str | int], problems: errors.ProblemList
) -> None:
    seen: dict[str, int] = {}
    port_names = {port.name for port in component.properties.ports if port.name}
    for index, probe in enumerate(component.traits.probes):
        where = [*path, "traits", "probes", index]
        if probe.type in seen:
            problems.add(
                [*where, "type"],
                f"duplicate {probe.type} probe (also probes[{seen[probe.type]}])",
            )
        seen.setdefault(probe.type, index)
        action = probe.http_get or probe.tcp_socket
        if (
            action is not None
            and isinstance(action.port, str)
            and action.port not in port_names
        ):
            field_name = "httpGet" if probe.http_get else "tcpSocket"
            valid = ", ".join(sorted(port_names)) or "none declared"
            problems.add(
                [*where, field_name, "port"],
                f"names port {action.port!r}, which the component does not declare (named ports: {valid})",
            )
        if probe.type in ("liveness", "startup") and probe.success_threshold not in (
            None,
            1,
        ):
            problems.add(
                [*where, "successThreshold"], f"must be 1 for a {probe.type} probe"
            )


def _check_env(
    component: Component,
    path: list[str | int],
    declared: dict[str, Component],
    problems: errors.ProblemList,
) -> None:
    for index, item in enumerate(component.traits.env_from):
        wanted = "config" if item.type == "configMap" else "secret"
        problem = _reference_problem(item.source_name, wanted, declared)
        if problem:
            problems.add([*path, "traits", "envFrom", index, "sourceName"], problem)
    seen: dict[str, str] = {key: "properties.env" for key in component.properties.env}
    for index, item in enumerate(component.traits.envs):
        where = [*path, "traits", "envs", index]
        if item.name in seen:
            problems.add(
                [*where, "name"],
                f"duplicate environment variable {item.name!r} (also in {seen[item.name]})",
            )
        seen.setdefault(item.name, f"envs[{index}]")
        for source_name, wanted in (("config", "config"), ("secret", "secret")):
            reference = getattr(item.value_from, source_name)
            if reference is not None:
                problem = _reference_problem(
                    reference.name, wanted, declared, reference.key
                )
                if problem:
                    field_name = "key" if problem.startswith("key ") else "name"
                    problems.add(
                        [*where, "valueFrom", source_name, field_name], problem
                    )


def _check_containers(
    component: Component, path: list[str | int], problems: errors.ProblemList
) -> None:
    seen: dict[str, str] = {
        component.name: "the main container, named after the component"
    }
    for field_name in ("init", "sidecar"):
        for index, container in enumerate(getattr(component.traits, field_name)):
            if container.name in seen:
                problems.add(
                    [*path, "traits", field_name, index, "name"],
                    f"duplicate container name {container.name!r} (also {seen[container.name]})",
                )
            seen.setdefault(container.name, f"{field_name}[{index}]")
            for key in container.env:
                problem = names.check_env_name(key)
                if problem:
                    problems.add(
                        [*path, "traits", field_name, index, "env", key],
                        f"invalid name: {problem}",
                    )


def _check_rbac(
    component: Component, path: list[str | int], problems: errors.ProblemList
) -> None:
    entries = component.traits.rbac
    accounts = {entry.service_account or component.name for entry in entries}
    if len(accounts) > 1:
        problems.add(
            [*path, "traits", "rbac"],
            f"a component runs as one service account, but the entries name {', '.join(sorted(accounts))}",
        )
    seen: dict[bool, int] = {}
    for index, entry in enumerate(entries):
        if entry.cluster_scope in seen:
            scope = "cluster-scoped" if entry.cluster_scope else "namespaced"
            problems.add(
                [*path, "traits", "rbac", index],
                f"a second {scope} entry; merge its rules into rbac[{seen[entry.cluster_scope]}]",
            )
        seen.setdefault(entry.cluster_scope, index)
        for rule_index, rule in enumerate(entry.rules):
            where = [*path, "traits", "rbac", index, "rules", rule_index]
            if not rule.resources and not rule.non_resource_urls:
                problems.add(where, "needs resources or nonResourceURLs")
            if rule.resources and rule.non_resource_urls:
                problems.add(
                    where,
                    f"gives both resources ({', '.join(rule.resources)}) and nonResourceURLs"
                    f" ({', '.join(rule.non_resource_urls)}); Kubernetes needs one rule for each",
                )
            if rule.resources and not rule.api_groups:
                problems.add(
                    [*where, "apiGroups"],
                    'is required with resources; use [""] for the core API group',
                )
            if rule.non_resource_urls and not entry.cluster_scope:
                problems.add(
                    [*where, "nonResourceURLs"],
                    f"{', '.join(rule.non_resource_urls)}: non-resource URLs only apply to a"
                    " ClusterRole; set clusterScope: true on this entry",
                )
