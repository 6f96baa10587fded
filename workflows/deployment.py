"""The deployment workflow: steps in dependency order, executions, tiers, jobs.

One workflow run deploys one application. Its ID comes from the application's
namespace and name, so Temporal itself refuses a second deployment of the same
application while one runs. The plan is recomputed from the request on every
replay (it is a pure function of it), so history carries the request once and one
manifest per activity, never the whole plan.

Steps form a graph: a step depends on the step before it unless `dependsOn` names
other steps, and steps whose dependencies are final start together. After a failure
nothing new starts except steps whose `if` asks to run (for example on failure).
Progress is queryable at any time (`progress`), approval steps wait for the
`approve` update, and a long deployment continues as new at an execution boundary
before its history grows past `max_history_events`.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import oam
    from oam import conditions
    from workflows import deleting
    from workflows.jobs import ACTIVITY_RETRY, JobRunner, failure_text
    from workflows.tracking import FINAL_STEP_STATES, Tracker, restore_progress
    from workflows.types import (
        WORKFLOW_NAME,
        Approval,
        ApprovalDecision,
        ApprovalOutcome,
        DeployInput,
        DeploymentState,
        JobState,
        ObjectRef,
        PreflightInput,
        PreflightResult,
        Progress,
        StepState,
    )


@workflow.defn(name=WORKFLOW_NAME)
class DeployApplication:
    @workflow.init
    def __init__(self, input: DeployInput) -> None:
        self._input = input
        self._application = input.application
        self._plan = oam.build_plan(input.application)
        self._tracker = Tracker(restore_progress(input, self._plan))
        self._decisions: dict[str, Approval] = {}
        if input.resume:
            self._decisions.update(input.resume.approvals)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._finished_steps: list[str] = []
        self._pause_for_new_run = False
        slots = input.application.max_concurrency
        self._runner = JobRunner(
            application=input.application.name,
            tracker=self._tracker,
            options=input.options,
            resume=input.resume,
            global_slots=asyncio.Semaphore(slots) if slots else None,
            manifests=self._plan.manifests,
            on_change=self._publish_details,
        )

    @workflow.run
    async def run(self, input: DeployInput) -> Progress:
        tracker = self._tracker
        progress = tracker.progress
        if input.carried is None:
            progress.started_at = workflow.now()
            progress.run_count = input.resume.run_count if input.resume else 1
        self._publish_details()

        if not input.cluster:
            if not await self._preflight():
                return self._end_failed()
        else:
            progress.cluster = input.cluster

        try:
            await self._run_steps()
        except asyncio.CancelledError:
            await self._stop_running_steps()
            progress.owned = self._owned_after(set())
            tracker.finish(DeploymentState.CANCELLED, workflow.now())
            self._publish_details()
            workflow.logger.info("%s: deployment cancelled", progress.application)
            raise

        if self._pause_for_new_run:
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.logger.info(
                "%s: continuing as new after %d history events",
                progress.application,
                workflow.info().get_current_history_length(),
            )
            workflow.continue_as_new(
                DeployInput(
                    application=input.application,
                    options=input.options,
                    resume=input.resume,
                    owned=input.owned,
                    carried=progress.model_copy(update={"jobs": []}),
                    carried_jobs=[
                        job.record()
                        for job in progress.jobs
                        if job.state != JobState.PENDING
                    ],
                    cluster=progress.cluster,
                )
            )

        if tracker.failed():
            return (
                self._end_failed()
                if self._application.failure_policy == "keep"
                else await self._cleanup_and_fail()
            )
        await self._prune()
        tracker.finish(DeploymentState.SUCCEEDED, workflow.now())
        self._publish_details()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return progress

    @workflow.query(name="progress")
    def progress(self) -> Progress:
        return self._tracker.progress

    @workflow.update(name="approve")
    async def approve(self, decision: ApprovalDecision) -> ApprovalOutcome:
        step = self._approval_target(decision)
        self._decisions[step] = Approval(
            approved=decision.approve,
            reason=decision.reason,
            decided_at=workflow.now(),
            identity=decision.identity,
        )
        return ApprovalOutcome(step=step, approved=decision.approve)

    @approve.validator
    def _validate_approve(self, decision: ApprovalDecision) -> None:
        self._approval_target(decision)

    def _approval_target(self, decision: ApprovalDecision) -> str:
        waiting = [
            name
            for name in self._tracker.progress.awaiting_approval()
            if name not in self._decisions
        ]
        if decision.step is None:
            if len(waiting) == 1:
                return waiting[0]
            if not waiting:
                raise ValueError("no step of this deployment is waiting for approval")
            raise ValueError(
                f"several steps wait for approval ({', '.join(waiting)}); name one with --step"
            )
        if decision.step not in waiting:
            states = {
                step.name: step.state.value for step in self._tracker.progress.steps
            }
            if decision.step not in states:
                raise ValueError(
                    f"no step named {decision.step!r} (steps: {', '.join(states)})"
                )
            raise ValueError(
                f"step {decision.step!r} is not waiting for approval (it is {states[decision.step]})"
            )
        return decision.step

    # --- steps ----------------------------------------------------------------------

    async def _run_steps(self) -> None:
        started_any = False
        while True:
            # Between steps, with none running, is a safe point to continue as new.
            if started_any and not self._tasks and self._should_continue_as_new():
                if any(
                    record.state == StepState.PENDING
                    for record in self._tracker.progress.steps
                ):
                    self._pause_for_new_run = True
                    return
            self._start_ready_steps()
            if not self._tasks:
                return
            started_any = True
            await workflow.wait_condition(lambda: bool(self._finished_steps))
            for name in self._finished_steps:
                self._tasks.pop(name)
            self._finished_steps.clear()
            if self._pause_for_new_run and not self._tasks:
                return

    def _start_ready_steps(self) -> None:
        tracker = self._tracker
        now = workflow.now()
        changed = True
        while changed:
            changed = False
            for step in self._plan.steps:
                record = tracker.step(step.name)
                resuming = (
                    record.state == StepState.RUNNING and step.name not in self._tasks
                )
                if record.state != StepState.PENDING and not resuming:
                    continue
                if any(
                    tracker.step(name).state not in FINAL_STEP_STATES
                    for name in step.depends_on
                ):
                    continue
                verdict = self._verdict(step) if not resuming else None
                if verdict is not None:
                    state, message = verdict
                    tracker.finish_step(step.name, state, now, message)
                    job_state = (
                        JobState.SKIPPED
                        if state == StepState.SKIPPED
                        else JobState.PENDING
                    )
                    tracker.skip_jobs_of_step(step.name, job_state, message)
                    changed = True
                    continue
                tracker.start_step(step.name, now)
                self._tasks[step.name] = asyncio.create_task(self._run_step(step))
        self._publish_details()

    def _verdict(self, step: oam.Step) -> tuple[StepState, str] | None:
        """Decide whether a step runs: None to run it, else the state it ends in unrun."""
        tracker = self._tracker
        statuses = {
            record.name: _condition_status(record.state)
            for record in tracker.progress.steps
        }
        if self._runner.stopping:
            return StepState.NOT_STARTED, "not started: the deployment was cancelled"
        if step.condition is None:
            unhappy = [
                name for name in step.depends_on if statuses[name] != "succeeded"
            ]
            if unhappy:
                name = unhappy[0]
                return StepState.SKIPPED, f"skipped: step {name} {statuses[name]}"
            if tracker.failed():
                return (
                    StepState.NOT_STARTED,
                    "not started: the deployment had already failed",
                )
            return None
        node = conditions.parse(step.condition)
        if conditions.evaluate(node, step.depends_on, statuses):
            return None
        return StepState.SKIPPED, f"skipped: condition {step.condition!r} is false"

    async def _run_step(self, step: oam.Step) -> None:
        try:
            if step.type == "approval":
                await self._run_approval(step)
            else:
                await self._run_deploy_step(step)
        finally:
            self._finished_steps.append(step.name)

    async def _run_deploy_step(self, step: oam.Step) -> None:
        tracker = self._tracker
        record = tracker.step(step.name)
        deadline = None
        if step.timeout_seconds:
            deadline = record.started_at.timestamp() + step.timeout_seconds  # type: ignore[union-attr]
        retry = self._retry_policy(step.name)

        while record.next_execution < len(step.executions):
            execution = self._plan.executions[step.executions[record.next_execution]]
            succeeded = await self._runner.run_execution(execution, retry, deadline)
            if not succeeded:
                failed = [
                    job
                    for job in tracker.progress.jobs
                    if job.step == step.name and job.state == JobState.FAILED
                ]
                reason = f"{failed[0].describe()} failed" if failed else "a job failed"
                tracker.finish_step(step.name, StepState.FAILED, workflow.now(), reason)
                return
            record.next_execution += 1
            if (
                record.next_execution < len(step.executions)
                and self._should_continue_as_new()
            ):
                self._pause_for_new_run = True
                return
        tracker.finish_step(step.name, StepState.SUCCEEDED, workflow.now())

    async def _run_approval(self, step: oam.Step) -> None:
        tracker = self._tracker
        tracker.start_step(step.name, workflow.now(), StepState.AWAITING_APPROVAL)
        self._publish_details()
        workflow.logger.info(
            "%s: step %s awaits approval", self._application.name, step.name
        )
        try:
            await workflow.wait_condition(
                lambda: step.name in self._decisions,
                timeout=timedelta(seconds=step.timeout_seconds)
                if step.timeout_seconds
                else None,
            )
        except TimeoutError:
            tracker.finish_step(
                step.name, StepState.FAILED, workflow.now(), "approval timed out"
            )
            return
        decision = self._decisions[step.name]
        record = tracker.step(step.name)
        record.approval = decision
        if decision.approved:
            who = f" by {decision.identity}" if decision.identity else ""
            tracker.finish_step(
                step.name, StepState.SUCCEEDED, workflow.now(), f"approved{who}"
            )
        else:
            reason = f": {decision.reason}" if decision.reason else ""
            tracker.finish_step(
                step.name, StepState.FAILED, workflow.now(), f"rejected{reason}"
            )

    def _retry_policy(self, step_name: str) -> oam.RetryPolicy:
        index = next(
            (
                i
                for i, step in enumerate(self._application.workflow)
                if step.name == step_name
            ),
            None,
        )
        if index is not None and self._application.workflow[index].retry is not None:
            return self._application.workflow[index].retry  # type: ignore[return-value]
        return self._application.retry

    def _should_continue_as_new(self) -> bool:
        if len(self._tasks) > 1:
            return False  # only at a boundary where no other step is running
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length()
            >= self._input.options.max_history_events
        )

    async def _stop_running_steps(self) -> None:
        self._runner.stopping = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        now = workflow.now()
        for record in self._tracker.progress.steps:
            if record.state in (StepState.RUNNING, StepState.AWAITING_APPROVAL):
                self._tracker.finish_step(
                    record.name, StepState.CANCELLED, now, "cancelled"
                )
            elif record.state == StepState.PENDING:
                record.state = StepState.NOT_STARTED
                record.message = "not started: the deployment was cancelled"

    # --- start and end --------------------------------------------------------------

    async def _preflight(self) -> bool:
        provided = {
            (
                str(manifest.get("spec", {}).get("group", "")),
                str(version.get("name")),
                str(manifest.get("spec", {}).get("names", {}).get("kind")),
            )
            for manifest in self._plan.manifests.values()
            if manifest.get("kind") == "CustomResourceDefinition"
            for version in manifest.get("spec", {}).get("versions", []) or []
        }
        kinds = sorted(
            {
                (job.api_version, job.kind)
                for job in self._plan.jobs
                if (
                    job.api_version.rpartition("/")[0],
                    job.api_version.rpartition("/")[2],
                    job.kind,
                )
                not in provided
            }
        )
        try:
            result: PreflightResult = await workflow.execute_activity(
                "preflight",
                PreflightInput(
                    application=self._application.name,
                    namespace=self._application.namespace,
                    kinds=kinds,
                    retry=self._application.retry,
                ),
                result_type=PreflightResult,
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=timedelta(
                    seconds=self._input.options.heartbeat_timeout_seconds
                ),
                retry_policy=ACTIVITY_RETRY,
                summary=f"check the cluster for namespace {self._application.namespace}",
            )
        except ActivityError as error:
            tracker = self._tracker
            tracker.progress.first_failure = f"preflight: {failure_text(error)}"
            now = workflow.now()
            for record in tracker.progress.steps:
                record.state = StepState.NOT_STARTED
                record.message = "not started: the preflight check failed"
                record.finished_at = now
            return False
        self._tracker.progress.cluster = result.cluster
        self._publish_details()
        return True

    async def _cleanup_and_fail(self) -> Progress:
        tracker = self._tracker
        tracker.progress.state = DeploymentState.CLEANING_UP
        self._publish_details()
        groups = deleting.created_by_this_deployment(
            self._plan, tracker, self._input.resume
        )
        entries = await deleting.delete_groups(
            groups,
            self._application.name,
            self._application.retry,
            self._input.options,
            "failurePolicy cleanup",
        )
        tracker.progress.cleanup = entries
        return self._end_failed()

    async def _prune(self) -> None:
        """Delete objects earlier deployments created that the request no longer has."""
        progress = self._tracker.progress
        stale = [
            ref for ref in self._input.owned if ref.job_id not in self._plan.manifests
        ]
        entries = []
        if stale:
            workflow.logger.info(
                "%s: pruning %d objects no longer in the request",
                progress.application,
                len(stale),
            )
            entries = await deleting.delete_groups(
                deleting.by_reverse_tier(stale),
                self._application.name,
                self._application.retry,
                self._input.options,
                "pruned",
            )
        progress.pruned = entries
        gone = {
            entry.job_id
            for entry in entries
            if entry.deleted or entry.message == "already gone"
        }
        progress.owned = self._owned_after(gone)

    def _owned_after(self, removed: set[str]) -> list[ObjectRef]:
        """Compute the objects the application owns after this run: created ones, minus the deleted."""
        owned = {ref.job_id: ref for ref in self._input.owned}
        for job in self._tracker.progress.jobs:
            if job.created and job.state in deleting.APPLIED_STATES:
                owned[job.id] = ObjectRef.of_job(job, job.uid)
            elif job.id in owned and job.uid:
                owned[job.id] = owned[job.id].model_copy(update={"uid": job.uid})
        cleaned = {
            entry.job_id for entry in self._tracker.progress.cleanup if entry.deleted
        }
        return [ref for job_id, ref in owned.items() if job_id not in removed | cleaned]

    def _end_failed(self) -> Progress:
        tracker = self._tracker
        tracker.progress.owned = self._owned_after(set())
        tracker.finish(DeploymentState.FAILED, workflow.now())
        self._publish_details()
        progress = tracker.progress
        raise ApplicationError(
            f"deployment of {progress.application} failed: {progress.first_failure}",
            progress,
            type="DeploymentFailed",
            non_retryable=True,
        )

    def _publish_details(self) -> None:
        workflow.set_current_details(self._tracker.details())


def _condition_status(state: StepState) -> str:
    if state == StepState.SUCCEEDED:
        return "succeeded"
    if state == StepState.FAILED:
        return "failed"
    return "skipped"
