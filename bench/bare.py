"""A minimal chain workflow: oamflow's `apply_object` activity, one manifest after another.

It is the baseline of the step transition benchmark. It has no oamflow logic (no
plan, no progress tracking, no details, no waiting for readiness) and calls the
activity by name with the same `ApplyInput` that oamflow sends, so the difference
between the two workflows is what oamflow's workflow code adds per job.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.types import ApplyInput, ApplyResult

WORKFLOW_NAME = "BenchBareChain"
APPLY_TIMEOUT = timedelta(minutes=5)
HEARTBEAT_TIMEOUT = timedelta(seconds=30)


class ChainInput(BaseModel):
    jobs: list[ApplyInput]


@workflow.defn(name=WORKFLOW_NAME)
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
