"""The execution plan: steps become executions, executions tiers, tiers jobs.

An execution is a unit that runs tier by tier (High, then Normal, then Low), each
tier starting only when every job of the tier before it is ready. How steps map to
executions:

- a StepByStep step runs one execution per component, in order, one job at a time;
- a DAG step runs one execution for all its components, a tier's jobs at once
  (capped by the step's and the request's `maxConcurrency`);
- sub-steps under a StepByStep parent run in order, each by its own mode;
- sub-steps under a DAG parent (all DAG) merge into one execution.

Inside a tier, jobs follow Helm's install order by kind, then the order in which the
execution lists its components, then the object name. The plan is a pure function of
the request, so the workflow recomputes it identically on every replay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from oam import kinds, steps, units
from oam.model import Application
from oam.performance import paused_garbage_collection
from oam.render import Manifest, object_key, render_component


@dataclass(frozen=True)
class Job:
    """One Kubernetes object to apply and wait for."""

    id: str
    component: str
    kind: str
    api_version: str
    namespace: str | None
    name: str
    timeout_seconds: float | None

    def describe(self) -> str:
        """`StatefulSet default/mysql`, as operators read it."""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"

    def to_json(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "kind": self.kind,
            "apiVersion": self.api_version,
            "name": self.name,
            "namespace": self.namespace,
        }


@dataclass(frozen=True)
class Tier:
    tier: kinds.Tier
    concurrency: int
    jobs: tuple[Job, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "tier": self.tier.value,
            "concurrency": self.concurrency,
            "jobs": [job.to_json() for job in self.jobs],
        }


@dataclass(frozen=True)
class Execution:
    index: int
    step: str
    sub_step: str | None
    mode: str
    components: tuple[str, ...]
    tiers: tuple[Tier, ...]

    @property
    def jobs(self) -> list[Job]:
        return [job for tier in self.tiers for job in tier.jobs]

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "subStep": self.sub_step,
            "mode": self.mode,
            "tiers": [tier.to_json() for tier in self.tiers],
        }


@dataclass(frozen=True)
class Step:
    name: str
    type: str
    depends_on: tuple[str, ...]
    condition: str | None
    timeout_seconds: float | None
    max_concurrency: int | None
    executions: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "dependsOn": list(self.depends_on),
            "if": self.condition,
            "timeoutSeconds": self.timeout_seconds,
            "maxConcurrency": self.max_concurrency,
            "executions": list(self.executions),
        }


@dataclass(frozen=True)
class Plan:
    application: str
    namespace: str
    max_concurrency: int | None
    steps: tuple[Step, ...]
    executions: tuple[Execution, ...]
    manifests: dict[str, Manifest] = field(repr=False, compare=False)

    @property
    def jobs(self) -> list[Job]:
        return [job for execution in self.executions for job in execution.jobs]

    def to_json(self) -> dict[str, Any]:
        """The plan as other tools read it (`starter.py plan --output json`)."""
        return {
            "application": self.application,
            "namespace": self.namespace,
            "maxConcurrency": self.max_concurrency,
            "executions": [execution.to_json() for execution in self.executions],
            "steps": [step.to_json() for step in self.steps],
        }


def job_id(manifest: Manifest) -> str:
    kind, namespace, name = object_key(manifest)
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def build_plan(
    application: Application, rendered: dict[str, list[Manifest]] | None = None
) -> Plan:
    """Plan the whole deployment; the request must already be validated.

    `rendered` takes manifests by component that validation already rendered.
    """
    with paused_garbage_collection():
        return _build_plan(application, rendered)


def _build_plan(
    application: Application, rendered: dict[str, list[Manifest]] | None
) -> Plan:
    components = {component.name: component for component in application.components}
    if rendered is None or len(rendered) != len(components):
        rendered = {
            name: render_component(application, component)
            for name, component in components.items()
        }
    manifests: dict[str, Manifest] = {}
    planned_steps: list[Step] = []
    executions: list[Execution] = []

    for step in steps.resolve_steps(application):
        first = len(executions)
        for group_components, sub_step, mode in _execution_groups(step):
            executions.append(
                _execution(
                    application,
                    len(executions),
                    step,
                    sub_step,
                    mode,
                    group_components,
                    rendered,
                    components,
                    manifests,
                )
            )
        planned_steps.append(
            Step(
                name=step.name,
                type=step.type,
                depends_on=step.depends_on,
                condition=step.condition,
                timeout_seconds=step.timeout_seconds,
                max_concurrency=step.max_concurrency,
                executions=tuple(range(first, len(executions))),
            )
        )
    return Plan(
        application=application.name,
        namespace=application.namespace,
        max_concurrency=application.max_concurrency,
        steps=tuple(planned_steps),
        executions=tuple(executions),
        manifests=manifests,
    )


def _execution_groups(
    step: steps.ResolvedStep,
) -> list[tuple[tuple[str, ...], str | None, str]]:
    """(components, sub-step name, mode) of each execution a step runs, in order."""
    if step.type == "approval":
        return []
    if step.has_sub_steps and step.mode == "DAG":
        subs = [group.name for group in step.groups]
        name = subs[0] if len(subs) == 1 else None
        return [(step.components, name, "DAG")]
    groups = []
    for group in step.groups:
        if group.mode == "StepByStep":
            groups += [
                ((component,), group.name, "StepByStep")
                for component in group.components
            ]
        else:
            groups.append((group.components, group.name, "DAG"))
    return groups


def _execution(
    application: Application,
    index: int,
    step: steps.ResolvedStep,
    sub_step: str | None,
    mode: str,
    component_names: tuple[str, ...],
    rendered: dict[str, list[Manifest]],
    components: dict[str, Any],
    manifests: dict[str, Manifest],
) -> Execution:
    by_tier: dict[kinds.Tier, list[tuple[tuple[int, str], int, str, Job]]] = {}
    for position, component_name in enumerate(component_names):
        component = components[component_name]
        for manifest in rendered[component_name]:
            kind, namespace, name = object_key(manifest)
            identifier = job_id(manifest)
            manifests[identifier] = manifest
            job = Job(
                id=identifier,
                component=component_name,
                kind=kind,
                api_version=str(manifest.get("apiVersion")),
                namespace=namespace or None,
                name=name,
                timeout_seconds=_seconds(component.timeout),
            )
            sort_key = (kinds.install_rank(kind), position, name, job)
            by_tier.setdefault(kinds.tier_of(kind), []).append(sort_key)

    tiers = []
    for tier in kinds.TIER_ORDER:
        entries = by_tier.get(tier)
        if not entries:
            continue
        entries.sort(key=lambda entry: entry[:3])
        jobs = tuple(entry[3] for entry in entries)
        tiers.append(Tier(tier, _concurrency(application, step, mode, len(jobs)), jobs))
    return Execution(index, step.name, sub_step, mode, component_names, tuple(tiers))


def _concurrency(
    application: Application, step: steps.ResolvedStep, mode: str, count: int
) -> int:
    if mode == "StepByStep":
        return 1
    caps = [count, step.max_concurrency, application.max_concurrency]
    return max(1, min(cap for cap in caps if cap is not None))


def _seconds(duration: str | None) -> float | None:
    return units.parse_duration(duration) if duration else None
