"""Checks of the workflow: step references, uniqueness, sub-steps and the step graph.

Each check appends problems with the step's path and carries on.
"""

from __future__ import annotations

from oam import conditions, errors, steps
from oam.model import Application, WorkflowStep


def check_workflow(
    application: Application,
    declared: set[str],
    problems: errors.ProblemList,
    warnings: list[str],
) -> None:
    """Check every step; the step graph is checked when the steps themselves are sound."""
    before = len(problems.items)
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
            # Count what it names as deployed, so no "deployed by no step" follows.
            for sub in step.sub_steps:
                for name in steps.named_components(sub, declared):
                    deployed_by.setdefault(name, f"workflow[{index}]")
            for name in steps.named_components(step, declared):
                deployed_by.setdefault(name, f"workflow[{index}]")
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
    if len(problems.items) == before and application.workflow:
        _check_step_graph(application, problems)
    if not problems:
        _warn_about_late_references(application, warnings)


def check_raw_references(data: dict, problems: errors.ProblemList) -> None:
    """Check step references in request data whose models did not parse.

    Only the mistakes that need no parsed model are reported here: components a step
    names that no component declares, and dependencies on steps that do not exist.
    Everything is read defensively, because the data failed validation.
    """
    components = data.get("component", data.get("components"))
    if not isinstance(components, list):
        return
    declared = [item.get("name") for item in components if isinstance(item, dict)]
    declared_text = ", ".join(name for name in declared if isinstance(name, str))
    workflow = data.get("workflow")
    if not isinstance(workflow, list):
        return
    step_names = [step.get("name") for step in workflow if isinstance(step, dict)]
    for index, step in enumerate(workflow):
        if not isinstance(step, dict):
            continue
        groups = [(["workflow", index], step)]
        sub_steps = step.get("subSteps", step.get("sub_steps"))
        if isinstance(sub_steps, list):
            groups += [
                (["workflow", index, "subSteps", position], sub)
                for position, sub in enumerate(sub_steps)
                if isinstance(sub, dict)
            ]
        for path, group in groups:
            properties = group.get("properties")
            policies = (
                properties.get("policies") if isinstance(properties, dict) else None
            )
            for field_path, listed in (
                (["components"], group.get("components")),
                (["properties", "policies"], policies),
            ):
                if not isinstance(listed, list):
                    continue
                for position, name in enumerate(listed):
                    if isinstance(name, str) and name not in declared:
                        problems.add(
                            [*path, *field_path, position],
                            f"names component {name!r}, which is not declared (declared: {declared_text})",
                        )
        depends_on = step.get("dependsOn", step.get("depends_on"))
        if isinstance(depends_on, list):
            for position, name in enumerate(depends_on):
                if isinstance(name, str) and name not in step_names:
                    valid = ", ".join(str(item) for item in step_names)
                    problems.add(
                        ["workflow", index, "dependsOn", position],
                        f"names step {name!r}, which does not exist (steps: {valid})",
                    )


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
