"""Step transition: a chain of 100 ConfigMaps, oamflow's workflow next to a bare chain.

The request has 100 `config` components and no workflow, so the plan is 100
StepByStep steps of one job each; ConfigMaps are ready once applied, so every job
is one `apply_object` activity. The bare chain (`bench.bare`) runs the same
activity with the same `ApplyInput` for the same manifests in the same order, on
the same worker process and task queue. The two alternate, the order flipping on
every repeat, after one unmeasured warm-up round of each.

Per run it records the wall time from the start request to the result, and the
transitions from the history: completion of job N to start of job N+1, split
into queueing, the workflow task and dispatch. It also records the gaps between
consecutive applies in the emulator's log and, for oamflow, `finishedAt` of N to
`startedAt` of N+1 from the returned progress.
"""

from __future__ import annotations

import statistics
import time
import uuid
from typing import Any

import oam
from bench import applications, timing
from bench.bare import CHAIN_WORKFLOW as BARE_WORKFLOW
from bench.bare import ChainInput
from bench.histories import fetch_histories
from bench.stack import LocalStack
from workflows.types import (
    WORKFLOW_NAME,
    ApplyInput,
    DeployInput,
    DeployOptions,
    Progress,
    workflow_id,
)

TARGET_RATIO = 1.2
CONCURRENCY = 256


def _chain_input(application: oam.Application) -> ChainInput:
    plan = oam.build_plan(application)
    return ChainInput(
        jobs=[
            ApplyInput(
                job_id=job.id,
                application=application.name,
                manifest=plan.manifests[job.id],
                retry=application.retry,
            )
            for job in plan.jobs
        ]
    )


def _progress_gaps(progress: Progress) -> list[float]:
    jobs = sorted(
        (job for job in progress.jobs if job.started_at and job.finished_at),
        key=lambda job: job.started_at,  # type: ignore[arg-type, return-value]
    )
    return [
        (following.started_at - previous.finished_at).total_seconds()  # type: ignore[operator]
        for previous, following in zip(jobs, jobs[1:], strict=False)
    ]


async def _run_once(
    stack: LocalStack, task_queue: str, variant: str, count: int
) -> dict[str, Any]:
    assert stack.control is not None
    stack.reset_cluster()
    name = f"chain-{uuid.uuid4().hex[:8]}"
    application = oam.validate_document(
        applications.config_chain(name, count)
    ).application
    client = stack.client

    started = time.perf_counter()
    if variant == "oamflow":
        handle = await client.start_workflow(
            WORKFLOW_NAME,
            DeployInput(application=application, options=DeployOptions()),
            id=workflow_id(application.namespace, application.name),
            task_queue=task_queue,
            result_type=Progress,
        )
    else:
        handle = await client.start_workflow(
            BARE_WORKFLOW,
            _chain_input(application),
            id=f"bare-{name}",
            task_queue=task_queue,
            result_type=int,
        )
    result = await handle.result()
    wall = time.perf_counter() - started

    assert handle.first_execution_run_id is not None
    history = await fetch_histories(client, handle.id, handle.first_execution_run_id)
    events = [event for run in history.runs for event in run.events]
    parts = timing.chain_transitions(timing.activity_spans(events))
    gaps = timing.write_gaps(stack.control.log(), "ConfigMap")
    record: dict[str, Any] = {
        "variant": variant,
        "workflowId": handle.id,
        "jobs": count,
        "wallSeconds": wall,
        "historyEvents": history.total_events,
        "historySeconds": timing.seconds(
            timing.event_time(events[-1]), timing.event_time(events[0])
        ),
        "transition": {key: timing.summarize(values) for key, values in parts.items()},
        "emulatorApplyGap": timing.summarize(gaps),
        "emulatorApplies": len(gaps) + 1,
    }
    if variant == "oamflow":
        record["progressGap"] = timing.summarize(_progress_gaps(result))
    return record


async def run(stack: LocalStack, quick: bool) -> dict[str, Any]:
    count = 20 if quick else 100
    repeats = 1 if quick else 3
    task_queue = f"bench-transition-{uuid.uuid4().hex[:8]}"
    worker = stack.start_worker(task_queue, CONCURRENCY, with_baselines=True)
    try:
        for variant in ("oamflow", "bare"):
            await _run_once(stack, task_queue, variant, 5)  # warm-up, not recorded
        runs: list[dict[str, Any]] = []
        for repeat in range(repeats):
            order = ("oamflow", "bare") if repeat % 2 == 0 else ("bare", "oamflow")
            for variant in order:
                record = await _run_once(stack, task_queue, variant, count)
                record["repeat"] = repeat
                runs.append(record)
    finally:
        stack.stop_worker(worker)
    return _summarize(runs, count, repeats)


def _median_of(runs: list[dict[str, Any]], variant: str, *path: str) -> float:
    values = []
    for record in runs:
        if record["variant"] != variant:
            continue
        value: Any = record
        for key in path:
            value = value[key]
        values.append(value)
    return statistics.median(values)


def _summarize(runs: list[dict[str, Any]], count: int, repeats: int) -> dict[str, Any]:
    medians: dict[str, dict[str, float]] = {}
    for variant in ("oamflow", "bare"):
        medians[variant] = {
            "wallSeconds": _median_of(runs, variant, "wallSeconds"),
            "transitionSeconds": _median_of(
                runs, variant, "transition", "transition", "median"
            ),
            "taskQueueSeconds": _median_of(
                runs, variant, "transition", "taskQueue", "median"
            ),
            "taskRunSeconds": _median_of(
                runs, variant, "transition", "taskRun", "median"
            ),
            "dispatchSeconds": _median_of(
                runs, variant, "transition", "dispatch", "median"
            ),
            "activitySeconds": _median_of(
                runs, variant, "transition", "activity", "median"
            ),
            "emulatorApplyGapSeconds": _median_of(
                runs, variant, "emulatorApplyGap", "median"
            ),
            "historyEvents": _median_of(runs, variant, "historyEvents"),
        }
    medians["oamflow"]["progressGapSeconds"] = _median_of(
        runs, "oamflow", "progressGap", "median"
    )
    oamflow, bare = medians["oamflow"], medians["bare"]
    ratios = {
        "wall": oamflow["wallSeconds"] / bare["wallSeconds"],
        "transition": oamflow["transitionSeconds"] / bare["transitionSeconds"],
        "emulatorApplyGap": oamflow["emulatorApplyGapSeconds"]
        / bare["emulatorApplyGapSeconds"],
    }
    return {
        "jobs": count,
        "repeats": repeats,
        "medians": medians,
        "ratios": ratios,
        "target": {"maxRatio": TARGET_RATIO},
        "passed": ratios["wall"] <= TARGET_RATIO
        and ratios["transition"] <= TARGET_RATIO,
        "runs": runs,
    }
