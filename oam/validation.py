"""Checks that span fields: references, uniqueness, per-type rules, the step graph.

Every check appends to a `ProblemList` and carries on, so one run reports every
mistake in the request. Paths name the offending value as the request spells it
(`component[2].traits.storage[0].sourceName`, `workflow[1].components[1]`).
"""

from __future__ import annotations

from oam import conditions, errors, names, steps
from oam.model import Application, Component, WorkflowStep
from oam.render import labels as render_labels
from oam.render import object_key, pods, render_component

MAX_CONFIG_BYTES = 1024 * 1024
MAX_STORE_NAME = (
    52  # the StatefulSet controller adds an 11-character revision hash label
)
WORKLOAD_TYPES = ("webservice", "store", "job")


def check_application(
    application: Application, problems: errors.ProblemList, warnings: list[str]
) -> None:
    """Run every cross-field check; problems and warnings are appended in place."""
    declared: dict[str, int] = {}
    for index, component in enumerate(application.components):
        path: list[str | int] = ["component", index]
        if component.name in declared:
            problems.add(
                [*path, "name"],
                f"duplicate component name {component.name!r} (also component[{declared[component.name]}])",
            )
        else:
            declared[component.name] = index
    types = {component.name: component.type for component in application.components}

    for index, component in enumerate(application.components):
        _check_component(application, component, ["component", index], types, problems)
    _check_workflow(application, set(declared), problems, warnings)
    _check_rendered_objects(application, problems)


# --- components ---------------------------------------------------------------------


def _check_component(
    application: Application,
    component: Component,
    path: list[str | int],
    types: dict[str, str],
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
        _check_storage(component, path, types, problems)
        _check_ingress(component, path, problems)
        _check_probes(component, path, problems)
        _check_env(component, path, types, problems)
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


def _reference_problem(name: str, wanted: str, types: dict[str, str]) -> str | None:
    """A name that matches a component must be a component that renders that object."""
    if name not in types:
        return None
    if types[name] == wanted:
        return None
    return f"names component {name!r} of type {types[name]}, which renders no {'ConfigMap' if wanted == 'config' else 'Secret'}"


def _check_storage(
    component: Component,
    path: list[str | int],
    types: dict[str, str],
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
                problem = _reference_problem(storage.source_name, storage.type, types)
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
            if names.check_subdomain(host):
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
    types: dict[str, str],
    problems: errors.ProblemList,
) -> None:
    for index, item in enumerate(component.traits.env_from):
        wanted = "config" if item.type == "configMap" else "secret"
        problem = _reference_problem(item.source_name, wanted, types)
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
                problem = _reference_problem(reference.name, wanted, types)
                if problem:
                    problems.add([*where, "valueFrom", source_name, "name"], problem)


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
            if not rule.resources and not rule.non_resource_urls:
                problems.add(
                    [*path, "traits", "rbac", index, "rules", rule_index],
                    "needs resources or nonResourceURLs",
                )


# --- workflow -----------------------------------------------------------------------


def _check_workflow(
    application: Application,
    declared: set[str],
    problems: errors.ProblemList,
    warnings: list[str],
) -> None:
    declared_text = ", ".join(component.name for component in application.components)
    deployed_by: dict[str, str] = {}
    step_names: dict[str, int] = {}

    for index, step in enumerate(application.workflow):
        path: list[str | int] = ["workflow", index]
        if step.name in step_names:
            problems.add(
                [*path, "name"],
                f"duplicate step name {step.name!r} (also workflow[{step_names[step.name]}])",
            )
        step_names.setdefault(step.name, index)
        if step.type == "approval":
            _check_approval_step(step, path, problems)
            continue
        names_given = bool(step.components or step.properties.policies)
        if names_given and step.sub_steps:
            problems.add(
                path,
                "names components both directly and through subSteps; use one or the other",
            )
            continue
        if step.sub_steps:
            _check_sub_steps(step, path, declared, declared_text, deployed_by, problems)
            continue
        resolved = steps.named_components(step, declared)
        if not resolved:
            problems.add(
                [*path, "components"],
                f"step {step.name!r} deploys nothing: name its components (declared: {declared_text})",
            )
        _check_references(
            step,
            path,
            declared,
            declared_text,
            deployed_by,
            f"workflow[{index}]",
            problems,
        )

    if application.workflow:
        for component in application.components:
            if component.name not in deployed_by:
                problems.add(
                    "workflow",
                    f"component {component.name!r} is declared but no step deploys it; add it to a step",
                )
    if not problems and application.workflow:
        _check_step_graph(application, problems)
    if not problems:
        _warn_about_late_references(application, warnings)


def _check_approval_step(
    step: WorkflowStep, path: list[str | int], problems: errors.ProblemList
) -> None:
    if step.components or step.properties.policies or step.sub_steps:
        problems.add(
            path,
            "an approval step deploys nothing; remove its components, policies and subSteps",
        )
    if step.max_concurrency is not None:
        problems.add([*path, "maxConcurrency"], "does not apply to an approval step")


def _check_references(
    step: WorkflowStep | object,
    path: list[str | int],
    declared: set[str],
    declared_text: str,
    deployed_by: dict[str, str],
    owner: str,
    problems: errors.ProblemList,
) -> None:
    seen_here: set[str] = set()
    for field_path, listed in (
        (["components"], step.components),  # type: ignore[attr-defined]
        (["properties", "policies"], step.properties.policies),  # type: ignore[attr-defined]
    ):
        for position, name in enumerate(listed):
            where = [*path, *field_path, position]
            if name not in declared:
                problems.add(
                    where,
                    f"names component {name!r}, which is not declared (declared: {declared_text})",
                )
                continue
            if name in seen_here:
                continue  # named twice in one step: deduplicated, not an error
            seen_here.add(name)
            if name in deployed_by:
                problems.add(
                    where,
                    f"component {name!r} is already deployed by {deployed_by[name]}; deploy each component in one step",
                )
            else:
                deployed_by[name] = owner
    if not step.components and not step.properties.policies:  # type: ignore[attr-defined]
        name = step.name  # type: ignore[attr-defined]
        if name in declared:
            if name in deployed_by:
                problems.add(
                    path,
                    f"deploys component {name!r} (its own name), which is already deployed by {deployed_by[name]}",
                )
            else:
                deployed_by[name] = owner


def _check_sub_steps(
    step: WorkflowStep,
    path: list[str | int],
    declared: set[str],
    declared_text: str,
    deployed_by: dict[str, str],
    problems: errors.ProblemList,
) -> None:
    seen: dict[str, int] = {}
    for index, sub in enumerate(step.sub_steps):
        where = [*path, "subSteps", index]
        if sub.name in seen:
            problems.add(
                [*where, "name"],
                f"duplicate sub-step name {sub.name!r} (also subSteps[{seen[sub.name]}])",
            )
        seen.setdefault(sub.name, index)
        if step.mode == "DAG" and sub.mode == "StepByStep":
            problems.add(
                [*where, "mode"],
                "a StepByStep sub-step cannot run under a DAG step, which runs all its sub-steps at once;"
                " make the parent StepByStep or the sub-step DAG",
            )
        if not steps.named_components(sub, declared):
            problems.add(
                [*where, "components"],
                f"sub-step {sub.name!r} deploys nothing: name its components (declared: {declared_text})",
            )
        owner = f"workflow[{path[1]}].subSteps[{index}]"
        _check_references(
            sub, where, declared, declared_text, deployed_by, owner, problems
        )


def _check_step_graph(application: Application, problems: errors.ProblemList) -> None:
    resolved = steps.resolve_steps(application)
    names_known = {step.name for step in resolved}
    valid = ", ".join(step.name for step in resolved)
    for step in resolved:
        raw = application.workflow[step.index]
        for position, name in enumerate(raw.depends_on or []):
            where: list[str | int] = ["workflow", step.index, "dependsOn", position]
            if name == step.name:
                problems.add(where, f"step {step.name!r} depends on itself")
            elif name not in names_known:
                problems.add(
                    where, f"names step {name!r}, which does not exist (steps: {valid})"
                )
    if problems:
        return
    cycle = steps.find_cycle(resolved)
    if cycle:
        problems.add(
            "workflow",
            f"dependency cycle: {' -> '.join(cycle)} (a step without dependsOn depends on the step before it)",
        )
        return

    for step in resolved:
        if step.condition is None:
            continue
        where = ["workflow", step.index, "if"]
        try:
            node = conditions.parse(step.condition)
        except conditions.ConditionError as error:
            problems.add(where, f"invalid condition: {error}")
            continue
        upstream = steps.ancestors_of(resolved, step.name)
        for name in conditions.referenced_steps(node):
            if name not in names_known:
                problems.add(
                    where,
                    f"reads the status of step {name!r}, which does not exist (steps: {valid})",
                )
            elif name not in upstream:
                problems.add(
                    where,
                    f"reads the status of step {name!r}, which step {step.name!r} does not depend on,"
                    " so its status is not known yet; add it to dependsOn",
                )


def _warn_about_late_references(application: Application, warnings: list[str]) -> None:
    """Warn when a workload mounts or reads an object that a later step deploys."""
    order: dict[str, int] = {}
    for step in steps.resolve_steps(application):
        for name in step.components:
            order[name] = step.index
    for component in application.components:
        referenced = [
            storage.source_name
            for storage in component.traits.storage
            if storage.source_name
        ]
        referenced += [item.source_name for item in component.traits.env_from]
        for item in component.traits.envs:
            source = item.value_from.config or item.value_from.secret
            if source is not None:
                referenced.append(source.name)
        for name in dict.fromkeys(referenced):
            if name in order and order[name] > order.get(component.name, 0):
                warnings.append(
                    f"component {component.name!r} uses {name!r}, which a later step deploys;"
                    " its pods wait until that step has run"
                )


def _check_rendered_objects(
    application: Application, problems: errors.ProblemList
) -> None:
    """Two components must not render the same object."""
    if problems:
        return
    owners: dict[tuple[str, str, str], str] = {}
    for component in application.components:
        for manifest in render_component(application, component):
            key = object_key(manifest)
            if key in owners and owners[key] != component.name:
                kind, namespace, name = key
                where = f"{namespace}/{name}" if namespace else name
                problems.add(
                    "component",
                    f"components {owners[key]!r} and {component.name!r} both render {kind} {where}; rename one",
                )
            elif key in owners:
                kind, namespace, name = key
                problems.add(
                    "component",
                    f"component {component.name!r} renders {kind} {name} twice",
                )
            owners.setdefault(key, component.name)
