"""`failurePolicy: cleanup`: after a failure, delete what this deployment created.

Only objects the deployment created are deleted (the apply returned 201, in this
run or an earlier run of the same deployment), each guarded by its uid so an object
recreated by someone else in the meantime is left alone. Deletion runs in reverse:
executions last to first, tiers Low, Normal, High, the jobs of one tier together.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from oam import Plan
    from oam.model import RetryPolicy
    from workflows.jobs import ACTIVITY_RETRY, failure_text
    from workflows.tracking import Tracker
    from workflows.types import (
        CleanupEntry,
        DeleteInput,
        DeleteResult,
        DeployOptions,
        JobState,
        ResumeState,
    )

APPLIED_STATES = {
    JobState.READY,
    JobState.FAILED,
    JobState.WAITING,
    JobState.APPLYING,
    JobState.CANCELLED,
}


async def delete_created_objects(
    plan: Plan,
    tracker: Tracker,
    resume: ResumeState | None,
    retry: RetryPolicy,
    options: DeployOptions,
) -> None:
    previous = resume.jobs if resume else {}
    for execution in reversed(plan.executions):
        for tier in reversed(execution.tiers):
            doomed = []
            for job in tier.jobs:
                record = tracker.job(job.id)
                earlier = previous.get(job.id)
                created_here = record.created and record.state in APPLIED_STATES
                created_before = earlier is not None and earlier.created
                if created_here or created_before:
                    doomed.append(
                        (job, record.uid or (earlier.uid if earlier else None))
                    )
            if doomed:
                outcomes = await asyncio.gather(
                    *(
                        _delete(job, uid, tracker, retry, options)
                        for job, uid in doomed
                    ),
                    return_exceptions=True,
                )
                for outcome in outcomes:
                    if isinstance(outcome, BaseException):
                        raise outcome


async def _delete(
    job, uid: str | None, tracker: Tracker, retry: RetryPolicy, options: DeployOptions
) -> None:
    try:
        result: DeleteResult = await workflow.execute_activity(
            "delete_object",
            DeleteInput(
                job_id=job.id,
                application=tracker.progress.application,
                api_version=job.api_version,
                kind=job.kind,
                namespace=job.namespace,
                name=job.name,
                uid=uid,
                retry=retry,
            ),
            result_type=DeleteResult,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(seconds=options.heartbeat_timeout_seconds),
            retry_policy=ACTIVITY_RETRY,
            activity_id=f"delete {job.id}",
            summary=f"delete {job.describe()}",
        )
        entry = CleanupEntry(
            job_id=job.id,
            object=job.describe(),
            deleted=result.deleted,
            message=result.message,
        )
    except ActivityError as error:
        entry = CleanupEntry(
            job_id=job.id,
            object=job.describe(),
            deleted=False,
            message=f"deletion failed: {failure_text(error)}",
        )
    tracker.progress.cleanup.append(entry)
