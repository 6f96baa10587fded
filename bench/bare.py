"""Baseline workflows with no oamflow logic, to compare oamflow's workflow against.

`BareChain` runs oamflow's `apply_object` activity for one manifest after
another: the baseline of the step transition benchmark. `BareFanOut` starts every
job at once. Each job is `apply_object` and then, unless the object is already
ready, `await_ready`, both called by name with the inputs oamflow would send.
With `hold_seconds` set, each job is instead the `bench_hold` activity, which
only sleeps, so the run measures the Temporal SDK and server alone. Neither
workflow keeps progress, publishes details or evaluates a plan.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from workflows.types import (
        ApplyInput,
        ApplyResult,
        DeployOptions,
        WaitInput,
        WaitResult,
    )

CHAIN_WORKFLOW = "BenchBareChain"
FAN_OUT_WORKFLOW = "BenchBareFanOut"
HOLD_ACTIVITY = "bench_hold"
APPLY_TIMEOUT = timedelta(minutes=5)
HEARTBEAT_TIMEOUT = timedelta(seconds=30)


class ChainInput(BaseModel):
    jobs: list[ApplyInput]


class FanOutInput(BaseModel):
    jobs: list[ApplyInput]
    options: DeployOptions = DeployOptions()
    # When set, each job is one `bench_hold` activity of this many seconds instead.
    hold_seconds: float | None = None


class FanOutResult(BaseModel):
    started: datetime
    finished: list[datetime]


@activity.defn(name=HOLD_ACTIVITY)
def bench_hold(seconds: float) -> None:
    """Sleep in the activity thread pool, like a wait that polls nothing."""
    time.sleep(seconds)


@workflow.defn(name=CHAIN_WORKFLOW)
class BareChain:
    @workflow.run
    async def run(self, chain: ChainInput) -> int:
        """Apply every job in order; return how many reported ready."""
        ready = 0
        for job in chain.jobs:
            result = await workflow.execute_activity(
                "apply_object",
                job,
                result_type=ApplyResult,
                start_to_close_timeout=APPLY_TIMEOUT,
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                activity_id=f"apply {job.job_id}",
            )
            ready += int(result.ready)
        return ready


@workflow.defn(name=FAN_OUT_WORKFLOW)
class BareFanOut:
    @workflow.run
    async def run(self, fan_out: FanOutInput) -> FanOutResult:
        """Run every job at once; return the start time and each job's finish time."""
        started = workflow.now()
        finished = await asyncio.gather(
            *(self._run_job(job, fan_out) for job in fan_out.jobs)
        )
        return FanOutResult(started=started, finished=list(finished))

    async def _run_job(self, job: ApplyInput, fan_out: FanOutInput) -> datetime:
        if fan_out.hold_seconds is not None:
            await workflow.execute_activity(
                HOLD_ACTIVITY,
                fan_out.hold_seconds,
                start_to_close_timeout=APPLY_TIMEOUT,
                activity_id=f"hold {job.job_id}",
            )
            return workflow.now()
        applied = await workflow.execute_activity(
            "apply_object",
            job,
            result_type=ApplyResult,
            start_to_close_timeout=APPLY_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            activity_id=f"apply {job.job_id}",
        )
        if not applied.ready:
            options = fan_out.options
            metadata = job.manifest["metadata"]
            await workflow.execute_activity(
                "await_ready",
                WaitInput(
                    job_id=job.job_id,
                    application=job.application,
                    api_version=job.manifest["apiVersion"],
                    kind=job.manifest["kind"],
                    namespace=applied.namespace,
                    name=metadata["name"],
                    deadline=workflow.now()
                    + timedelta(seconds=options.default_timeout_seconds),
                    timeout_seconds=options.default_timeout_seconds,
                    generation=applied.generation,
                    backoff_grace_seconds=options.backoff_grace_seconds,
                    poll_interval_seconds=options.poll_interval_seconds,
                    retry=job.retry,
                ),
                result_type=WaitResult,
                start_to_close_timeout=APPLY_TIMEOUT,
                heartbeat_timeout=timedelta(seconds=options.heartbeat_timeout_seconds),
                activity_id=f"wait {job.job_id}",
            )
        return workflow.now()
