"""Running one job (apply, then wait until ready) and the tiers of one execution.

A job is two activities: `apply_object` (server-side apply, which also reports
whether the object is already ready) and, only when it is not, `await_ready`, a
long wait that heartbeats. Splitting them means a worker that dies during a wait
resumes waiting without applying again.

Failures are values here, not exceptions: `run_job` returns False after recording
why, so sibling jobs of a tier finish and report before the execution stops.
Cancellation is the one exception that propagates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy as TemporalRetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    TimeoutError,
)

with workflow.unsafe.imports_passed_through():
    from oam import Execution, Job, units
    from oam.model import RetryPolicy
    from workflows.tracking import Tracker
    from workflows.types import (
        ApplyInput,
        ApplyResult,
        DeployOptions,
        JobState,
        ResumeState,
        WaitInput,
        WaitResult,
    )

# Temporal's own retries cover a worker that dies mid-activity (a heartbeat timeout).
# Kubernetes API errors are retried inside the activities, by the request's policy.
ACTIVITY_RETRY = TemporalRetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=10,
)
APPLY_TIMEOUT = timedelta(minutes=10)
WAIT_MARGIN = timedelta(minutes=2)


class JobRunner:
    """Runs jobs and executions for one deployment run, recording into the tracker."""

    def __init__(
        self,
        application: str,
        tracker: Tracker,
        options: DeployOptions,
        resume: ResumeState | None,
        global_slots: asyncio.Semaphore | None,
        manifests: dict[str, dict],
        on_change: Callable[[], None],
    ) -> None:
        self.application = application
        self.manifests = manifests
        self.tracker = tracker
        self.options = options
        self.resume = resume
        self.global_slots = global_slots
        self.on_change = on_change
        self.stopping = False  # set when the deployment is cancelled

    async def run_execution(
        self, execution: Execution, retry: RetryPolicy, deadline: float | None
    ) -> bool:
        """Run the tiers in order; False as soon as a tier has a failed job."""
        for tier in execution.tiers:
            if tier.concurrency == 1:
                for job in tier.jobs:
                    if not await self.run_job(job, retry, deadline):
                        return False
            elif not await self._run_together(
                tier.jobs, tier.concurrency, retry, deadline
            ):
                return False
        return True

    async def _run_together(
        self,
        jobs: tuple[Job, ...],
        concurrency: int,
        retry: RetryPolicy,
        deadline: float | None,
    ) -> bool:
        """Run a tier's jobs at once, at most `concurrency` in flight.

        After a failure, jobs still waiting for a slot do not start, while running
        ones finish and report: every outcome is collected before deciding.
        """
        slots = asyncio.Semaphore(concurrency)
        failed = False

        async def run_in_tier(job: Job) -> bool | None:
            nonlocal failed
            async with slots:
                if failed or self.stopping:
                    return None
                succeeded = await self.run_job(job, retry, deadline)
                if not succeeded:
                    failed = True
                return succeeded

        # return_exceptions: plain gather would return at the first cancelled job while
        # its siblings still wait for their activities to acknowledge cancellation.
        outcomes = await asyncio.gather(
            *(run_in_tier(job) for job in jobs), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return all(outcome is True for outcome in outcomes)

    async def run_job(
        self, job: Job, retry: RetryPolicy, deadline: float | None
    ) -> bool:
        if self.global_slots is None:
            return await self._run_job(job, retry, deadline)
        async with self.global_slots:
            return await self._run_job(job, retry, deadline)

    async def _run_job(
        self, job: Job, retry: RetryPolicy, deadline: float | None
    ) -> bool:
        tracker = self.tracker
        now = workflow.now()
        timeout = job.timeout_seconds or self.options.default_timeout_seconds
        timeout_reason = f"its timeout of {_seconds_text(timeout)}"
        if deadline is not None:
            remaining = deadline - now.timestamp()
            if remaining <= 0:
                tracker.finish_job(
                    job.id,
                    JobState.FAILED,
                    now,
                    "timed out: its step's timeout had already passed",
                )
                self.on_change()
                return False
            if remaining < timeout:
                timeout = remaining
                timeout_reason = "its step's timeout"

        previous = self.resume.jobs.get(job.id) if self.resume else None
        tracker.start_job(job.id, JobState.APPLYING, now)
        self.on_change()
        try:
            applied: ApplyResult = await workflow.execute_activity(
                "apply_object",
                ApplyInput(
                    job_id=job.id,
                    application=self.application,
                    manifest=self._manifest(job),
                    retry=retry,
                    skip_if_unchanged=bool(previous and previous.ready),
                ),
                result_type=ApplyResult,
                start_to_close_timeout=APPLY_TIMEOUT,
                heartbeat_timeout=timedelta(
                    seconds=self.options.heartbeat_timeout_seconds
                ),
                retry_policy=ACTIVITY_RETRY,
                cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                activity_id=f"apply {job.id}",
                summary=f"apply {job.describe()}",
            )
            record = tracker.job(job.id)
            record.created = applied.created or bool(previous and previous.created)
            record.changed = applied.changed
            record.uid = applied.uid
            record.unchanged_since_previous_run = bool(
                previous and previous.ready and not applied.changed
            )

            message = applied.message
            if not applied.ready:
                record.state = JobState.WAITING
                record.waiting_since = workflow.now()
                self.on_change()
                waited: WaitResult = await workflow.execute_activity(
                    "await_ready",
                    WaitInput(
                        job_id=job.id,
                        application=self.application,
                        api_version=job.api_version,
                        kind=job.kind,
                        namespace=applied.namespace,
                        name=job.name,
                        deadline=workflow.now() + timedelta(seconds=timeout),
                        timeout_seconds=timeout,
                        timeout_reason=timeout_reason,
                        generation=applied.generation,
                        backoff_grace_seconds=self.options.backoff_grace_seconds,
                        poll_interval_seconds=self.options.poll_interval_seconds,
                        retry=retry,
                    ),
                    result_type=WaitResult,
                    start_to_close_timeout=timedelta(seconds=timeout) + WAIT_MARGIN,
                    heartbeat_timeout=timedelta(
                        seconds=self.options.heartbeat_timeout_seconds
                    ),
                    retry_policy=ACTIVITY_RETRY,
                    cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                    activity_id=f"wait {job.id}",
                    summary=f"wait for {job.describe()} to be ready",
                )
                message = waited.message
        except ActivityError as error:
            if isinstance(error.cause, CancelledError):
                # The deployment was cancelled and the activity acknowledged it.
                tracker.finish_job(
                    job.id, JobState.CANCELLED, workflow.now(), "cancelled"
                )
                self.on_change()
                raise asyncio.CancelledError() from error
            reason = failure_text(error)
            workflow.logger.warning(
                "%s: job %s failed: %s", self.application, job.id, reason
            )
            tracker.finish_job(job.id, JobState.FAILED, workflow.now(), reason)
            self.on_change()
            return False
        except asyncio.CancelledError:
            tracker.finish_job(job.id, JobState.CANCELLED, workflow.now(), "cancelled")
            self.on_change()
            raise

        tracker.finish_job(job.id, JobState.READY, workflow.now(), message)
        self.on_change()
        return True

    def _manifest(self, job: Job) -> dict:
        return self.manifests[job.id]


def failure_text(error: ActivityError) -> str:
    """Return the operator-facing reason an activity failed: its message, not a stack."""
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    if isinstance(cause, TimeoutError):
        return (
            f"timed out ({cause.type.name.lower().replace('_', ' ') if cause.type else 'timeout'});"
            " the worker may have stopped responding"
        )
    if cause is not None:
        return str(cause.message if hasattr(cause, "message") else cause)
    return str(error)


def _seconds_text(seconds: float) -> str:
    return units.format_seconds(seconds)
