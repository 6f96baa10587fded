"""Text views of a plan and of rendered manifests, for `plan` and `render`."""

from __future__ import annotations

import json
from typing import Any

import yaml

from oam import Plan, units
from oam.model import Application


def plan_json(plan: Plan) -> str:
    return json.dumps(plan.to_json(), indent=2)


def plan_table(plan: Plan, application: Application) -> str:
    """Render a readable plan: steps in order, their executions, tiers and jobs."""
    jobs = plan.jobs
    lines = [
        f"Application {plan.application} in namespace {plan.namespace}:"
        f" {len(application.components)} components, {len(plan.steps)} steps,"
        f" {len(plan.executions)} executions, {len(jobs)} jobs",
    ]
    settings = [f"failurePolicy {application.failure_policy}"]
    if plan.max_concurrency:
        settings.append(f"maxConcurrency {plan.max_concurrency}")
    lines.append("  " + ", ".join(settings))
    for step in plan.steps:
        lines.append("")
        lines.append(f"step {step.name}  {_step_details(step)}")
        if step.type == "approval":
            lines.append(
                "  waits for `starter.py approve` before the steps after it run"
            )
            continue
        for index in step.executions:
            execution = plan.executions[index]
            label = f"  execution {index + 1}  {execution.mode}"
            if execution.sub_step:
                label += f"  sub-step {execution.sub_step}"
            label += f"  components: {', '.join(execution.components)}"
            lines.append(label)
            for tier in execution.tiers:
                prefix = f"    {tier.tier.value:<6}  concurrency {tier.concurrency:<3}"
                for position, job in enumerate(tier.jobs):
                    timeout = (
                        f"  timeout {units.format_seconds(job.timeout_seconds)}"
                        if job.timeout_seconds
                        else ""
                    )
                    head = prefix if position == 0 else " " * len(prefix)
                    lines.append(f"{head}  {job.describe()}{timeout}")
    return "\n".join(lines)


def _step_details(step: Any) -> str:
    details = [step.type if step.type == "approval" else ""]
    if step.depends_on:
        details.append(f"after {', '.join(step.depends_on)}")
    else:
        details.append("first")
    if step.condition:
        details.append(f"if {step.condition}")
    if step.timeout_seconds:
        details.append(f"timeout {units.format_seconds(step.timeout_seconds)}")
    if step.max_concurrency:
        details.append(f"maxConcurrency {step.max_concurrency}")
    return "(" + ", ".join(item for item in details if item) + ")"


def manifests_yaml(plan: Plan) -> str:
    """Render every manifest as multi-document YAML, in run order, for `kubectl apply -f -`."""
    documents = []
    for execution in plan.executions:
        for job in execution.jobs:
            header = f"# step {execution.step}, component {job.component}, tier {_tier_of(execution, job)}\n"
            body = yaml.safe_dump(
                plan.manifests[job.id], sort_keys=False, default_flow_style=False
            )
            documents.append(header + body)
    return "---\n" + "---\n".join(documents)


def _tier_of(execution: Any, job: Any) -> str:
    for tier in execution.tiers:
        if job in tier.jobs:
            return tier.tier.value
    return "?"
