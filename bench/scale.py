"""Scale: 1,000 mixed components (3,050 jobs) deployed to completion by a worker process.

The request (`applications.mixed`) has web services with a port and an ingress,
some with RBAC objects, stores, configs, secrets and batch jobs, dealt into 10
workflow steps that alternate between DAG and StepByStep. The emulator makes
workloads ready 50 ms after they are applied, so every workload job also runs
`await_ready`. The deployment uses the default `DeployOptions` and one
`python worker.py --concurrency 256` process, whose RSS is sampled every 0.2 s.

Afterwards it fetches the history of every run of the workflow ID, because the
deployment continues as new as its history grows. It reports total and per-run
event counts and sizes, the largest single payload and the workflow input size,
against Temporal's default limits. It also times `oam.build_plan` for the same
request in this process.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from typing import Any

import psutil

import oam
from bench import applications, timing
from bench.histories import (
    HISTORY_EVENT_LIMIT,
    HISTORY_SIZE_LIMIT_BYTES,
    PAYLOAD_LIMIT_BYTES,
    fetch_histories,
)
from bench.stack import LocalStack
from workflows.types import (
    WORKFLOW_NAME,
    DeployInput,
    DeployOptions,
    Progress,
    workflow_id,
)

CONCURRENCY = 256
READY_DELAY = 0.05
RSS_LIMIT_BYTES = 500 * 1024 * 1024
SAMPLE_SECONDS = 0.2
DEPLOY_TIMEOUT_SECONDS = 1800.0


class RssSampler(threading.Thread):
    """Samples a process's resident set size every `SAMPLE_SECONDS` until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.process = psutil.Process(pid)
        self.samples: list[tuple[float, int]] = []
        self._stopped = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self._stopped.is_set():
            try:
                rss = self.process.memory_info().rss
            except psutil.Error:
                return
            self.samples.append((time.monotonic() - started, rss))
            self._stopped.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._stopped.set()
        self.join()

    @property
    def peak(self) -> int:
        return max((rss for _, rss in self.samples), default=0)


def _plan_seconds(application: oam.Application) -> float:
    """Best of 3 wall times of `oam.build_plan`."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        oam.build_plan(application)
        best = min(best, time.perf_counter() - started)
    return best


async def run(stack: LocalStack, quick: bool) -> dict[str, Any]:
    count = 100 if quick else 1000
    steps = 2 if quick else 10
    name = f"scale-{uuid.uuid4().hex[:8]}"
    request = applications.mixed(name, count, steps=steps)
    application = oam.validate_document(request).application
    jobs = len(oam.build_plan(application).jobs)
    plan_seconds = _plan_seconds(application)

    task_queue = f"bench-scale-{uuid.uuid4().hex[:8]}"
    stack.reset_cluster(ready_delay=READY_DELAY)
    worker = stack.start_worker(task_queue, CONCURRENCY)
    sampler = RssSampler(worker.pid)
    idle_rss = sampler.process.memory_info().rss
    sampler.start()
    try:
        cpu_before = stack.cpu_seconds()
        started = time.perf_counter()
        handle = await stack.client.start_workflow(
            WORKFLOW_NAME,
            DeployInput(application=application, options=DeployOptions()),
            id=workflow_id(application.namespace, application.name),
            task_queue=task_queue,
            result_type=Progress,
        )
        progress = await asyncio.wait_for(handle.result(), DEPLOY_TIMEOUT_SECONDS)
        wall = time.perf_counter() - started
        cpu = timing.cpu_used(cpu_before, stack.cpu_seconds())
    finally:
        sampler.stop()
        stack.stop_worker(worker)

    assert handle.first_execution_run_id is not None
    history = await fetch_histories(
        stack.client, handle.id, handle.first_execution_run_id
    )
    summary = history.to_json()
    ready = sum(job.state.value == "ready" for job in progress.jobs)
    result_bytes = len(json.dumps(progress.model_dump(mode="json", by_alias=True)))
    passed = (
        progress.state.value == "succeeded"
        and summary["maxEventsPerRun"] < HISTORY_EVENT_LIMIT
        and summary["maxHistoryBytesPerRun"] < HISTORY_SIZE_LIMIT_BYTES
        and summary["largestPayloadBytes"] < PAYLOAD_LIMIT_BYTES
        and sampler.peak < RSS_LIMIT_BYTES
    )
    return {
        "components": count,
        "steps": steps,
        "jobs": jobs,
        "jobsReady": ready,
        "state": progress.state.value,
        "runCount": progress.run_count,
        "requestBytes": len(json.dumps(request)),
        "wallSeconds": wall,
        "cpuSeconds": cpu,
        "planSeconds": plan_seconds,
        "history": summary,
        "progressResultBytes": result_bytes,
        "workerRss": {
            "idleBytes": idle_rss,
            "peakBytes": sampler.peak,
            "samples": len(sampler.samples),
            "limitBytes": RSS_LIMIT_BYTES,
        },
        "target": {
            "eventsPerRun": HISTORY_EVENT_LIMIT,
            "historyBytesPerRun": HISTORY_SIZE_LIMIT_BYTES,
            "payloadBytes": PAYLOAD_LIMIT_BYTES,
            "workerRssBytes": RSS_LIMIT_BYTES,
        },
        "passed": passed,
    }
