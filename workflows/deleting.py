"""Deleting objects a deployment created: `failurePolicy: cleanup` and pruning.

Two callers, one rule: only objects that a deployment of this application created
(the apply returned 201) are deleted, each guarded by its uid, so an object that
existed before, or was replaced by someone else since, is left alone. Deletion runs
in reverse of the apply order, tier by tier (Low, Normal, High), the objects of one
tier together.

- Cleanup, after a failed deployment with `failurePolicy: cleanup`: the objects
  created by this run or an earlier run of the same deployment.
- Pruning, after a successful deployment: the objects a previous deployment of
  the application created that the request no longer contains.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from oam import Plan, kinds
    from oam.model import RetryPolicy
    from workflows.jobs import ACTIVITY_RETRY, failure_text
    from workflows.tracking import Tracker
    from workflows.types import (
        CleanupEntry,
        DeleteInput,
        DeleteResult,
        DeployOptions,
        JobState,
        ObjectRef,
        ResumeState,
    )

APPLIED_STATES = {
    JobState.READY,
    JobState.FAILED,
    JobState.WAITING,
    JobState.APPLYING,
    JobState.CANCELLED,
}


def created_by_this_deployment(
    plan: Plan, tracker: Tracker, resume: ResumeState | None
) -> list[list[ObjectRef]]:
    """Objects to clean up, grouped by tier, last tier of the last execution first."""
    previous = resume.jobs if resume else {}
    groups = []
    for execution in reversed(plan.executions):
        for tier in reversed(execution.tiers):
            group = []
            for job in tier.jobs:
                record = tracker.job(job.id)
                earlier = previous.get(job.id)
                created_here = record.created and record.state in APPLIED_STATES
                created_before = earlier is not None and earlier.created
                if created_here or created_before:
                    uid = record.uid or (earlier.uid if earlier else None)
                    group.append(ObjectRef.of_job(job, uid))
            if group:
                groups.append(group)
    return groups


def by_reverse_tier(refs: list[ObjectRef]) -> list[list[ObjectRef]]:
    """Objects grouped by tier, Low first, in reverse of their install order."""
    groups = []
    for tier in reversed(kinds.TIER_ORDER):
        group = [ref for ref in refs if kinds.tier_of(ref.kind) == tier]
        group.sort(key=lambda ref: kinds.install_rank(ref.kind), reverse=True)
        if group:
            groups.append(group)
    return groups


async def delete_groups(
    groups: list[list[ObjectRef]],
    application: str,
    retry: RetryPolicy,
    options: DeployOptions,
    reason: str,
) -> list[CleanupEntry]:
    """Delete group after group; the objects of one group at once. A failed deletion is recorded in its entry, not raised."""
    entries: list[CleanupEntry] = []
    for group in groups:
        outcomes = await asyncio.gather(
            *(_delete(ref, application, retry, options, reason) for ref in group),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
            entries.append(outcome)
    return entries


async def _delete(
    ref: ObjectRef,
    application: str,
    retry: RetryPolicy,
    options: DeployOptions,
    reason: str,
) -> CleanupEntry:
    try:
        result: DeleteResult = await workflow.execute_activity(
            "delete_object",
            DeleteInput(
                job_id=ref.job_id,
                application=application,
                api_version=ref.api_version,
                kind=ref.kind,
                namespace=ref.namespace,
                name=ref.name,
                uid=ref.uid,
                retry=retry,
            ),
            result_type=DeleteResult,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(seconds=options.heartbeat_timeout_seconds),
            retry_policy=ACTIVITY_RETRY,
            activity_id=f"delete {ref.job_id}",
            summary=f"delete {ref.describe()} ({reason})",
        )
        return CleanupEntry(
            job_id=ref.job_id,
            object=ref.describe(),
            deleted=result.deleted,
            message=result.message,
        )
    except ActivityError as error:
        return CleanupEntry(
            job_id=ref.job_id,
            object=ref.describe(),
            deleted=False,
            message=f"deletion failed: {failure_text(error)}",
        )
