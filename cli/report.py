"""Text views of a deployment's progress: live transition lines and the final table."""

from __future__ import annotations

import json
from datetime import datetime

from workflows.types import (
    DeploymentState,
    JobProgress,
    JobState,
    Progress,
    StepProgress,
    StepState,
)

# Labels of final job states in the per-job table.
JOB_LABELS = {
    JobState.READY: "succeeded",
    JobState.FAILED: "failed",
    JobState.SKIPPED: "skipped",
    JobState.PENDING: "not started",
    JobState.CANCELLED: "cancelled",
    JobState.APPLYING: "applying",
    JobState.WAITING: "waiting",
}


def job_label(job: JobProgress, final: bool) -> str:
    if not final and job.state == JobState.PENDING:
        return "pending"
    if job.state == JobState.READY and job.unchanged_since_previous_run:
        return "unchanged"
    return JOB_LABELS[job.state]


def elapsed(start: datetime | None, end: datetime | None) -> str:
    if start is None:
        return ""
    if end is None:
        return "…"
    seconds = (end - start).total_seconds()
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


class TransitionPrinter:
    """Prints one line per job or step state change between two progress snapshots."""

    def __init__(self, started: datetime | None = None) -> None:
        self.seen_jobs: dict[str, tuple[str, str]] = {}
        self.seen_steps: dict[str, str] = {}
        self.started = started
        self.cluster_shown = False

    def lines(self, progress: Progress) -> list[str]:
        """Lines for what changed since the last call, in the order it happened."""
        started = self.started or progress.started_at
        events: list[tuple[float, str]] = []
        if progress.cluster and not self.cluster_shown:
            events.append((-1.0, f"cluster: {progress.cluster}"))
            self.cluster_shown = True
        for step in progress.steps:
            if self.seen_steps.get(step.name) != step.state.value:
                event = self._step_line(progress, step, started)
                if event is not None:
                    events.append(event)
            self.seen_steps[step.name] = step.state.value
        for job in progress.jobs:
            current = (job.state.value, job.message)
            changed = self.seen_jobs.get(job.id) != current
            self.seen_jobs[job.id] = current
            if changed and job.state != JobState.PENDING:
                events.append(self._job_line(job, started))
        events.sort(key=lambda event: event[0])
        return [text for _, text in events]

    def _step_line(
        self, progress: Progress, step: StepProgress, started: datetime | None
    ) -> tuple[float, str] | None:
        if step.state == StepState.AWAITING_APPROVAL:
            text = f"step {step.name} awaits approval: python starter.py approve {_app_arg(progress)} --step {step.name}"
            return _offset(
                started, step.started_at
            ), f"{_clock(started, step.started_at)} {text}"
        if step.state in (StepState.SKIPPED, StepState.NOT_STARTED, StepState.FAILED):
            text = f"step {step.name} {step.state.value}: {step.message}"
            return _offset(
                started, step.finished_at
            ), f"{_clock(started, step.finished_at)} {text}"
        if step.state == StepState.SUCCEEDED and step.type == "approval":
            text = f"step {step.name} {step.message}"
            return _offset(
                started, step.finished_at
            ), f"{_clock(started, step.finished_at)} {text}"
        return None

    def _job_line(
        self, job: JobProgress, started: datetime | None
    ) -> tuple[float, str]:
        if job.state == JobState.APPLYING:
            moment = job.started_at
        elif job.state == JobState.WAITING:
            moment = job.waiting_since or job.started_at
        else:
            moment = job.finished_at
        text = f"{_clock(started, moment)} {job.step:<16} {job_label(job, False):<10} {job.describe()}"
        if job.message and job.state == JobState.FAILED:
            text += f"\n    {job.message}"
        elif job.message and job.state in (
            JobState.READY,
            JobState.WAITING,
            JobState.SKIPPED,
        ):
            text += f"  ({job.message})"
        return _offset(started, moment), text


def _offset(started: datetime | None, moment: datetime | None) -> float:
    if started is None or moment is None:
        return 0.0
    return (moment - started).total_seconds()


def _clock(started: datetime | None, moment: datetime | None) -> str:
    if started is None or moment is None:
        return "[     ]"
    return f"[{(moment - started).total_seconds():6.1f}s]"


def _app_arg(progress: Progress) -> str:
    if progress.namespace == "default":
        return progress.application
    return f"{progress.namespace}/{progress.application}"


def final_table(progress: Progress) -> str:
    """Render the per-job table: step, tier, object, outcome, duration, message."""
    final = progress.state != DeploymentState.RUNNING
    rows = [("STEP", "TIER", "OBJECT", "OUTCOME", "TIME", "MESSAGE")]
    for job in progress.jobs:
        rows.append(
            (
                job.step if not job.sub_step else f"{job.step}/{job.sub_step}",
                job.tier,
                job.describe(),
                job_label(job, final),
                elapsed(job.started_at, job.finished_at),
                _one_line(job.message),
            )
        )
    widths = [max(len(row[index]) for row in rows) for index in range(5)]
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[index]) for index, cell in enumerate(row[:5])]
        lines.append("  ".join(cells + [row[5]]).rstrip())
    approvals = [step for step in progress.steps if step.type == "approval"]
    for step in approvals:
        detail = (
            f" ({step.message})"
            if step.message and step.message != step.state.value
            else ""
        )
        lines.append(f"approval step {step.name}: {step.state.value}{detail}")
    if progress.pruned:
        lines.append("pruned (no longer in the request):")
        lines += [f"  {entry.object}: {entry.message}" for entry in progress.pruned]
    if progress.cleanup:
        lines.append("cleanup (failurePolicy cleanup):")
        lines += [f"  {entry.object}: {entry.message}" for entry in progress.cleanup]
    return "\n".join(lines)


def outcome_counts(progress: Progress) -> str:
    final = progress.state != DeploymentState.RUNNING
    counts: dict[str, int] = {}
    for job in progress.jobs:
        label = job_label(job, final)
        counts[label] = counts.get(label, 0) + 1
    order = [
        "succeeded",
        "unchanged",
        "failed",
        "cancelled",
        "skipped",
        "not started",
        "applying",
        "waiting",
        "pending",
    ]
    return ", ".join(f"{counts[label]} {label}" for label in order if counts.get(label))


def progress_json(
    progress: Progress, workflow_id: str, run_id: str | None, status: str
) -> str:
    data = progress.model_dump(mode="json", by_alias=True)
    data = {
        "workflowId": workflow_id,
        "runId": run_id,
        "temporalStatus": status,
        **data,
    }
    return json.dumps(data, indent=2)


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 160 else flat[:157] + "..."
