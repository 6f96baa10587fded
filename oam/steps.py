"""Workflow steps resolved from a request: defaults filled in, names deduplicated.

The request's step list is flexible (components or legacy `properties.policies` or
sub-steps; a step may name nothing and mean the component of its own name; no
workflow at all means one step per component). Everything downstream (validation
messages aside) works on `ResolvedStep`, where those choices are already made.
"""

from __future__ import annotations

from dataclasses import dataclass

from oam import units
from oam.model import Application, Mode, RetryPolicy, SubStep, WorkflowStep


@dataclass(frozen=True)
class Group:
    """The components a step deploys, or those of one of its sub-steps."""

    name: str | None
    mode: Mode
    components: tuple[str, ...]


@dataclass(frozen=True)
class ResolvedStep:
    index: int
    name: str
    type: str
    mode: Mode
    groups: tuple[Group, ...]
    has_sub_steps: bool
    depends_on: tuple[str, ...]
    condition: str | None
    timeout_seconds: float | None
    max_concurrency: int | None
    retry: RetryPolicy | None

    @property
    def components(self) -> tuple[str, ...]:
        return tuple(name for group in self.groups for name in group.components)


def named_components(
    step: WorkflowStep | SubStep, declared: set[str]
) -> tuple[str, ...]:
    """The union of `components` and `properties.policies`, deduplicated in that order.

    A step or sub-step that names none deploys the component of its own name, if one
    is declared; otherwise the result is empty (and validation rejects it).
    """
    names = list(dict.fromkeys([*step.components, *step.properties.policies]))
    if not names and step.name in declared:
        names = [step.name]
    return tuple(names)


def resolve_steps(application: Application) -> list[ResolvedStep]:
    declared = {component.name for component in application.components}
    if not application.workflow:
        return [
            ResolvedStep(
                index=index,
                name=component.name,
                type="deploy",
                mode="StepByStep",
                groups=(Group(None, "StepByStep", (component.name,)),),
                has_sub_steps=False,
                depends_on=(application.components[index - 1].name,) if index else (),
                condition=None,
                timeout_seconds=None,
                max_concurrency=None,
                retry=None,
            )
            for index, component in enumerate(application.components)
        ]

    resolved = []
    for index, step in enumerate(application.workflow):
        if step.type == "approval":
            groups: tuple[Group, ...] = ()
        elif step.sub_steps:
            groups = tuple(
                Group(sub.name, sub.mode, named_components(sub, declared))
                for sub in step.sub_steps
            )
        else:
            groups = (Group(None, step.mode, named_components(step, declared)),)
        if step.depends_on is None:
            depends_on: tuple[str, ...] = (
                (application.workflow[index - 1].name,) if index else ()
            )
        else:
            depends_on = tuple(dict.fromkeys(step.depends_on))
        resolved.append(
            ResolvedStep(
                index=index,
                name=step.name,
                type=step.type,
                mode=step.mode,
                groups=groups,
                has_sub_steps=bool(step.sub_steps),
                depends_on=depends_on,
                condition=step.condition,
                timeout_seconds=units.parse_duration(step.timeout)
                if step.timeout
                else None,
                max_concurrency=step.max_concurrency,
                retry=step.retry,
            )
        )
    return resolved


def find_cycle(steps: list[ResolvedStep]) -> list[str] | None:
    """A dependency cycle as a path `[a, b, a]`, or None when the steps form a DAG."""
    edges = {step.name: [name for name in step.depends_on] for step in steps}
    state: dict[str, int] = {}  # 1 while on the stack, 2 when finished
    for start in edges:
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = [start]
        state[start] = 1
        while stack:
            node, position = stack[-1]
            targets = edges.get(node, [])
            if position >= len(targets):
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            stack[-1] = (node, position + 1)
            target = targets[position]
            if target not in edges:
                continue
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if not state.get(target):
                state[target] = 1
                stack.append((target, 0))
                path.append(target)
    return None


def ancestors_of(steps: list[ResolvedStep], name: str) -> set[str]:
    """Every step that `name` depends on, directly or transitively."""
    by_name = {step.name: step for step in steps}
    found: set[str] = set()
    pending = list(by_name[name].depends_on) if name in by_name else []
    while pending:
        parent = pending.pop()
        if parent in found or parent not in by_name:
            continue
        found.add(parent)
        pending.extend(by_name[parent].depends_on)
    return found
