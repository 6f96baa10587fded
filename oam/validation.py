"""Checks that span fields: references, uniqueness, per-type rules, the step graph.

Every check appends to a `ProblemList` and carries on, so one run reports every
mistake in the request. Paths name the offending value as the request spells it
(`component[2].traits.storage[0].sourceName`, `workflow[1].components[1]`). The
checks of one component live in `oam.component_checks`, those of the workflow in
`oam.workflow_checks`.
"""

from __future__ import annotations

from oam import errors
from oam.component_checks import check_component
from oam.model import Application
from oam.render import Manifest, object_key, render_component
from oam.workflow_checks import check_raw_references, check_workflow

__all__ = ["check_application", "check_raw_references"]


def check_application(
    application: Application, problems: errors.ProblemList, warnings: list[str]
) -> dict[str, list[Manifest]]:
    """Run every cross-field check; problems and warnings are appended in place.

    Returns the manifests rendered for the object-clash check, by component, so
    that planning a valid request does not render it a second time.
    """
    declared: dict[str, int] = {}
    for index, component in enumerate(application.components):
        if component.name in declared:
            problems.add(
                ["component", index, "name"],
                f"duplicate component name {component.name!r} (also component[{declared[component.name]}])",
            )
        else:
            declared[component.name] = index
    by_name = {component.name: component for component in application.components}

    unsound: set[int] = set()
    for index, component in enumerate(application.components):
        before = len(problems.items)
        check_component(component, ["component", index], by_name, problems)
        if len(problems.items) > before:
            unsound.add(index)
    check_workflow(application, set(declared), problems, warnings)
    rendered = _check_rendered_objects(application, unsound, problems)
    _warn_about_objects_outside_the_namespace(application, warnings)
    return rendered


def _warn_about_objects_outside_the_namespace(
    application: Application, warnings: list[str]
) -> None:
    """k8s-objects are applied as given, even where the rest of a request may not reach."""
    for index, component in enumerate(application.components):
        for position, item in enumerate(component.properties.objects):
            kind = item.get("kind")
            metadata = (
                item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
            )
            namespace = metadata.get("namespace")
            where = f"component[{index}].properties.objects[{position}]"
            if kind == "Namespace":
                warnings.append(
                    f"{where}: creates Namespace {metadata.get('name')!r}; k8s-objects are applied as"
                    " given, although oamflow itself never creates the application's namespace"
                )
            elif isinstance(namespace, str) and namespace != application.namespace:
                warnings.append(
                    f"{where}: {kind} {metadata.get('name')!r} is in namespace {namespace!r}, outside the"
                    f" application's namespace {application.namespace!r}; it is applied as given"
                )


def _check_rendered_objects(
    application: Application, unsound: set[int], problems: errors.ProblemList
) -> dict[str, list[Manifest]]:
    """Two components must not render the same object; components with problems are skipped."""
    owners: dict[tuple[str, str, str], str] = {}
    rendered: dict[str, list[Manifest]] = {}
    for index, component in enumerate(application.components):
        if index in unsound:
            continue
        manifests = rendered[component.name] = render_component(application, component)
        for position, manifest in enumerate(manifests):
            key = object_key(manifest)
            kind, namespace, name = key
            where = f"{namespace}/{name}" if namespace else name
            path: list[str | int] = ["component", index]
            if component.type == "k8s-objects":
                path += ["properties", "objects", position]
            if key in owners and owners[key] != component.name:
                problems.add(
                    path,
                    f"component {component.name!r} renders {kind} {where}, which component"
                    f" {owners[key]!r} also renders; rename one of them",
                )
            elif key in owners:
                problems.add(path, f"renders {kind} {where} twice")
            owners.setdefault(key, component.name)
    return rendered
