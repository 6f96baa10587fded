"""DAG fan-out: 200 Deployments in one DAG tier, each held unready for 2 s by the emulator.

The request has 200 `webservice` components without ports (one Deployment each)
in one DAG step, deployed with the default `DeployOptions` through a `worker.py`
process with 256 activity slots. The emulator makes each Deployment ready 2 s
after it is applied (`set_delay("Deployment", "*", 2.0)`), so an ideal
orchestrator finishes the tier 2 s after its first apply. The result is the
makespan of the tier, from the first job's `startedAt` to the last job's
`finishedAt` in the returned progress, divided by 2 s.

To show where the time above 2 s goes, it also reads the emulator's log. It
records how long the applies took to arrive (first to last Deployment write),
and for each job the lag from the emulator logging the Deployment ready to the
workflow recording it ready. Two baselines run side by side on the same worker process
(`python -m bench.worker`) and task queue: `bare`, the same 200 jobs with
oamflow's activities but no oamflow workflow code (`bench.bare.BareFanOut`), and
`hold`, 200 activities that only sleep 2 s, which is what the Temporal server
and SDK alone achieve on this machine. The variants alternate over the repeats
after one unmeasured warm-up of each; the reported figures are medians.
"""

from __future__ import annotations

import statistics
import time
import uuid
from typing import Any

import oam
from bench import applications, timing
from bench.bare import FAN_OUT_WORKFLOW, FanOutInput, FanOutResult
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

READY_DELAY = 2.0
TARGET_RATIO = 1.25
CONCURRENCY = 256


def _prepare(stack: LocalStack, count: int) -> oam.Application:
    """Reset the cluster, hold Deployments unready for 2 s, return a fresh request."""
    assert stack.control is not None
    stack.reset_cluster(ready_delay=0.0)
    stack.control.set_delay("Deployment", "*", READY_DELAY)
    name = f"fanout-{uuid.uuid4().hex[:8]}"
    return oam.validate_document(applications.fan_out(name, count)).application


def _durations(spans: list[timing.ActivitySpan]) -> dict[str, float | None]:
    return timing.summarize(
        [
            timing.seconds(span.closed, span.started)
            for span in spans
            if span.started and span.closed
        ]
    )


def _history_timings(events: list[Any], writes: dict[str, float]) -> dict[str, Any]:
    """Summarize the activities of a fan-out run, matched to the emulator's writes."""
    spans = timing.activity_spans(events)
    waits = [span for span in spans if span.activity_type == "await_ready"]
    applies = [span for span in spans if span.activity_type == "apply_object"]
    apply_starts = [span.started for span in applies if span.started]
    apply_ends = [span.closed for span in applies if span.closed]

    # Per apply: activity start to the emulator logging the write, and the write
    # to the activity's completion.
    to_write, after_write = [], []
    for span in applies:
        name = span.activity_id.rpartition("/")[2]
        if span.started and span.closed and name in writes:
            to_write.append(writes[name] - span.started.timestamp())
            after_write.append(span.closed.timestamp() - writes[name])

    return {
        "events": len(events),
        "workflowTasks": timing.workflow_tasks(events),
        "awaitReadyActivities": len(waits),
        "applyActivities": len(applies),
        "applyStartSpreadSeconds": timing.seconds(max(apply_starts), min(apply_starts)),
        "applyCompletionSpreadSeconds": timing.seconds(
            max(apply_ends), min(apply_starts)
        ),
        "applyActivitySeconds": _durations(applies),
        "applyStartToWriteSeconds": timing.summarize(to_write),
        "applyWriteToCompletionSeconds": timing.summarize(after_write),
        "awaitReadyActivitySeconds": _durations(waits),
    }


def _logged_times(log: list[dict[str, Any]], event: str) -> dict[str, float]:
    """Deployment name to the time of its `event` entry in the emulator's log."""
    return {
        entry["name"]: entry["time"]
        for entry in log
        if entry["event"] == event and entry["kind"] == "Deployment"
    }


async def deploy_fan_out(
    stack: LocalStack, task_queue: str, count: int, options: DeployOptions
) -> dict[str, Any]:
    """Deploy one fan-out of `count` Deployments with oamflow and measure it."""
    assert stack.control is not None
    application = _prepare(stack, count)
    cpu_before = stack.cpu_seconds()
    started = time.perf_counter()
    handle = await stack.client.start_workflow(
        WORKFLOW_NAME,
        DeployInput(application=application, options=options),
        id=workflow_id(application.namespace, application.name),
        task_queue=task_queue,
        result_type=Progress,
    )
    progress = await handle.result()
    wall = time.perf_counter() - started
    cpu = timing.cpu_used(cpu_before, stack.cpu_seconds())

    jobs = [job for job in progress.jobs if job.kind == "Deployment"]
    first_start = min(job.started_at for job in jobs if job.started_at)
    last_ready = max(job.finished_at for job in jobs if job.finished_at)
    makespan = (last_ready - first_start).total_seconds()

    log = stack.control.log()
    writes = _logged_times(log, "write")
    ready = _logged_times(log, "ready")
    lags = [
        job.finished_at.timestamp() - ready[job.name]
        for job in jobs
        if job.finished_at and job.name in ready
    ]
    assert handle.first_execution_run_id is not None
    history = await fetch_histories(
        stack.client, handle.id, handle.first_execution_run_id
    )
    events = [event for run in history.runs for event in run.events]
    return {
        "deployments": len(jobs),
        "options": options.model_dump(by_alias=True),
        "state": progress.state.value,
        "wallSeconds": wall,
        "cpuSeconds": cpu,
        "makespanSeconds": makespan,
        "ratio": makespan / READY_DELAY,
        "firstStart": first_start.isoformat(),
        "lastReady": last_ready.isoformat(),
        "emulator": {
            "applySpreadSeconds": max(writes.values()) - min(writes.values()),
            "firstApplyToLastReadySeconds": max(ready.values()) - min(writes.values()),
            "readyLagSeconds": timing.summarize(lags),
        },
        "history": _history_timings(events, writes),
    }


async def run_baseline(
    stack: LocalStack, task_queue: str, count: int, variant: str
) -> dict[str, Any]:
    """Run `BareFanOut` for `count` jobs: oamflow's activities (`bare`) or sleeps (`hold`)."""
    assert stack.control is not None
    application = _prepare(stack, count)
    plan = oam.build_plan(application)
    jobs = [
        ApplyInput(
            job_id=job.id,
            application=application.name,
            manifest=plan.manifests[job.id],
            retry=application.retry,
        )
        for job in plan.jobs
    ]

    cpu_before = stack.cpu_seconds()
    started = time.perf_counter()
    result = await stack.client.execute_workflow(
        FAN_OUT_WORKFLOW,
        FanOutInput(jobs=jobs, hold_seconds=READY_DELAY if variant == "hold" else None),
        id=f"{variant}-{application.name}",
        task_queue=task_queue,
        result_type=FanOutResult,
    )
    wall = time.perf_counter() - started
    cpu = timing.cpu_used(cpu_before, stack.cpu_seconds())

    makespan = (max(result.finished) - result.started).total_seconds()
    record: dict[str, Any] = {
        "wallSeconds": wall,
        "cpuSeconds": cpu,
        "makespanSeconds": makespan,
        "ratio": makespan / READY_DELAY,
    }
    if variant == "bare":
        writes = _logged_times(stack.control.log(), "write")
        record["emulator"] = {
            "applySpreadSeconds": max(writes.values()) - min(writes.values())
        }
    return record


VARIANTS = ("oamflow", "bare", "hold")


async def _run_variant(
    stack: LocalStack, task_queue: str, count: int, variant: str
) -> dict[str, Any]:
    if variant == "oamflow":
        return await deploy_fan_out(stack, task_queue, count, DeployOptions())
    return await run_baseline(stack, task_queue, count, variant)


async def run(stack: LocalStack, quick: bool) -> dict[str, Any]:
    count = 40 if quick else 200
    repeats = 1 if quick else 3
    task_queue = f"bench-fanout-{uuid.uuid4().hex[:8]}"
    worker = stack.start_worker(task_queue, CONCURRENCY, with_baselines=True)
    runs: list[dict[str, Any]] = []
    try:
        for variant in VARIANTS:
            await _run_variant(stack, task_queue, 5, variant)  # warm-up
        for repeat in range(repeats):
            order = VARIANTS[repeat % 3 :] + VARIANTS[: repeat % 3]
            for variant in order:
                record = await _run_variant(stack, task_queue, count, variant)
                runs.append({"variant": variant, "repeat": repeat, **record})
    finally:
        stack.stop_worker(worker)

    medians = {
        variant: {
            key: statistics.median(
                record[key] for record in runs if record["variant"] == variant
            )
            for key in ("ratio", "makespanSeconds", "wallSeconds")
        }
        for variant in VARIANTS
    }
    ratio = medians["oamflow"]["ratio"]
    return {
        "deployments": count,
        "repeats": repeats,
        "readyDelaySeconds": READY_DELAY,
        "concurrency": CONCURRENCY,
        "medians": medians,
        "ratio": ratio,
        "target": {"maxRatio": TARGET_RATIO},
        "passed": ratio <= TARGET_RATIO,
        "runs": runs,
    }
