"""Bookkeeping of a deployment's progress: per-step and per-job states with timings.

The tracker owns the `Progress` value that the `progress` query returns and that a
continued-as-new run carries over. It is plain, deterministic code: timestamps come
from the caller (the workflow passes `workflow.now()`).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from oam import Plan
from oam.model import Application
from workflows.types import (
    DeployInput,
    DeploymentState,
    JobProgress,
    JobState,
    Progress,
    StepProgress,
    StepState,
)

FINAL_STEP_STATES = {
    StepState.SUCCEEDED,
    StepState.FAILED,
    StepState.SKIPPED,
    StepState.NOT_STARTED,
    StepState.CANCELLED,
}
ACTIVE_JOB_STATES = {JobState.APPLYING, JobState.WAITING}


def new_progress(application: Application, plan: Plan) -> Progress:
    """Every step pending and every job pending, in run order."""
    jobs = []
    for execution in plan.executions:
        for tier in execution.tiers:
            for job in tier.jobs:
                jobs.append(
                    JobProgress(
                        id=job.id,
                        step=execution.step,
                        sub_step=execution.sub_step,
                        execution=execution.index,
                        tier=tier.tier.value,
                        component=job.component,
                        kind=job.kind,
                        api_version=job.api_version,
                        namespace=job.namespace,
                        name=job.name,
                    )
                )
    steps = [StepProgress(name=step.name, type=step.type) for step in plan.steps]
    return Progress(
        application=application.name,
        namespace=application.namespace,
        project=application.project,
        alias=application.alias,
        failure_policy=application.failure_policy,
        steps=steps,
        jobs=jobs,
    )


def restore_progress(deploy_input: DeployInput, plan: Plan) -> Progress:
    """The progress a run starts from: fresh, or where a continued run left it."""
    progress = new_progress(deploy_input.application, plan)
    carried = deploy_input.carried
    if carried is None:
        return progress
    if carried.jobs:
        return (
            carried  # carried whole, as runs started before `carried_jobs` existed do
        )
    records = {record.id: record for record in deploy_input.carried_jobs}
    jobs = []
    for job in progress.jobs:
        record = records.get(job.id)
        jobs.append(
            job
            if record is None
            else job.model_copy(update=record.model_dump(by_alias=False))
        )
    return carried.model_copy(update={"jobs": jobs})


class Tracker:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self._jobs = {job.id: job for job in progress.jobs}
        self._steps = {step.name: step for step in progress.steps}

    def job(self, job_id: str) -> JobProgress:
        return self._jobs[job_id]

    def step(self, name: str) -> StepProgress:
        return self._steps[name]

    def start_job(self, job_id: str, state: JobState, now: datetime) -> JobProgress:
        job = self._jobs[job_id]
        job.state = state
        job.started_at = job.started_at or now
        job.finished_at = None
        job.message = ""
        return job

    def finish_job(
        self, job_id: str, state: JobState, now: datetime, message: str = ""
    ) -> JobProgress:
        job = self._jobs[job_id]
        job.state = state
        job.finished_at = now
        job.message = message
        if state == JobState.FAILED and not self.progress.first_failure:
            subject = job.describe()
            prefixed = message.startswith(subject)
            self.progress.first_failure = (
                message if prefixed else f"{subject}: {message}"
            )
        return job

    def start_step(
        self, name: str, now: datetime, state: StepState = StepState.RUNNING
    ) -> StepProgress:
        step = self._steps[name]
        step.state = state
        step.started_at = step.started_at or now
        return step

    def finish_step(
        self, name: str, state: StepState, now: datetime, message: str = ""
    ) -> StepProgress:
        step = self._steps[name]
        step.state = state
        step.finished_at = now
        step.message = message
        if state == StepState.FAILED and not self.progress.first_failure:
            self.progress.first_failure = f"step {name}: {message}"
        return step

    def skip_jobs_of_step(self, name: str, state: JobState, message: str) -> None:
        for job in self.progress.jobs:
            if job.step == name and job.state == JobState.PENDING:
                job.state = state
                job.message = message

    def failed(self) -> bool:
        return bool(self.progress.first_failure)

    def counts(self) -> Counter[str]:
        return Counter(job.state.value for job in self.progress.jobs)

    def details(self) -> str:
        """The "current details" text shown in the Temporal UI while the deployment runs."""
        progress = self.progress
        counts = self.counts()
        total = len(progress.jobs)
        lines = [
            f"**{progress.state.value}**: {counts.get('ready', 0)}/{total} jobs ready"
            + (f", {counts['failed']} failed" if counts.get("failed") else "")
        ]
        running = [
            step
            for step in progress.steps
            if step.state in (StepState.RUNNING, StepState.AWAITING_APPROVAL)
        ]
        for step in running:
            if step.state == StepState.AWAITING_APPROVAL:
                lines.append(
                    f"- step `{step.name}` awaits approval: `starter.py approve {progress.application}`"
                )
                continue
            active = [
                job
                for job in progress.jobs
                if job.step == step.name and job.state in ACTIVE_JOB_STATES
            ]
            shown = ", ".join(
                f"{job.state.value} {job.describe()}" for job in active[:5]
            )
            more = f" and {len(active) - 5} more" if len(active) > 5 else ""
            lines.append(f"- step `{step.name}`: {shown or 'between tiers'}{more}")
        if progress.first_failure:
            lines.append(f"- first failure: {progress.first_failure}")
        if progress.cluster:
            lines.append(f"- cluster: {progress.cluster}")
        return "\n".join(lines)

    def finish(self, state: DeploymentState, now: datetime) -> None:
        self.progress.state = state
        self.progress.finished_at = now
