"""Timings of a chain of `apply_object` activities, from a history and from the emulator log.

For consecutive jobs N and N+1 of a sequential chain, the history has
`ActivityTaskCompleted(N)`, then the workflow task that reacts to it
(`WorkflowTaskScheduled`, `Started`, `Completed`), then `ActivityTaskScheduled`
and `ActivityTaskStarted` of N+1. The gaps between those server timestamps split
a transition into queueing, the worker's workflow code and activity dispatch.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.api.history.v1 import HistoryEvent

from bench.histories import event_name, event_time


@dataclass
class ActivitySpan:
    activity_type: str
    activity_id: str
    scheduled: datetime
    started: datetime | None = None
    closed: datetime | None = None
    # The workflow task that scheduled this activity: scheduled, started, completed.
    task: tuple[datetime, datetime, datetime] | None = None


def activity_spans(events: list[HistoryEvent]) -> list[ActivitySpan]:
    """Return every activity of a run in scheduling order, with the task that scheduled it."""
    spans: dict[int, ActivitySpan] = {}
    task_scheduled: dict[int, datetime] = {}
    task_started: dict[int, datetime] = {}
    task_times: dict[int, tuple[datetime, datetime, datetime]] = {}
    for event in events:
        name = event_name(event)
        when = event_time(event)
        if name == "WORKFLOW_TASK_SCHEDULED":
            task_scheduled[event.event_id] = when
        elif name == "WORKFLOW_TASK_STARTED":
            attributes = event.workflow_task_started_event_attributes
            task_started[event.event_id] = when
            task_scheduled.setdefault(attributes.scheduled_event_id, when)
        elif name == "WORKFLOW_TASK_COMPLETED":
            attributes = event.workflow_task_completed_event_attributes
            task_times[event.event_id] = (
                task_scheduled[attributes.scheduled_event_id],
                task_started[attributes.started_event_id],
                when,
            )
        elif name == "ACTIVITY_TASK_SCHEDULED":
            attributes = event.activity_task_scheduled_event_attributes
            spans[event.event_id] = ActivitySpan(
                attributes.activity_type.name,
                attributes.activity_id,
                when,
                task=task_times.get(attributes.workflow_task_completed_event_id),
            )
        elif name == "ACTIVITY_TASK_STARTED":
            attributes = event.activity_task_started_event_attributes
            spans[attributes.scheduled_event_id].started = when
        elif (
            name.startswith("ACTIVITY_TASK_")
            and name != "ACTIVITY_TASK_CANCEL_REQUESTED"
        ):
            attributes = getattr(event, f"{name.lower()}_event_attributes", None)
            if attributes is not None and hasattr(attributes, "scheduled_event_id"):
                spans[attributes.scheduled_event_id].closed = when
    return list(spans.values())


def workflow_tasks(events: list[HistoryEvent]) -> dict[str, Any]:
    """Count of completed workflow tasks, and how long they queued and ran, in seconds."""
    scheduled: dict[int, datetime] = {}
    started: dict[int, datetime] = {}
    queued: list[float] = []
    ran: list[float] = []
    for event in events:
        name = event_name(event)
        if name == "WORKFLOW_TASK_SCHEDULED":
            scheduled[event.event_id] = event_time(event)
        elif name == "WORKFLOW_TASK_STARTED":
            attributes = event.workflow_task_started_event_attributes
            started[event.event_id] = event_time(event)
            queued.append(
                seconds(event_time(event), scheduled[attributes.scheduled_event_id])
            )
        elif name == "WORKFLOW_TASK_COMPLETED":
            attributes = event.workflow_task_completed_event_attributes
            ran.append(seconds(event_time(event), started[attributes.started_event_id]))
    return {
        "count": len(ran),
        "queuedSeconds": summarize(queued),
        "ranSeconds": summarize(ran),
        "ranTotalSeconds": sum(ran),
    }


def seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


def chain_transitions(spans: list[ActivitySpan]) -> dict[str, list[float]]:
    """Per pair of consecutive `apply_object` activities, the parts of the gap, in seconds.

    `transition` runs from the completion of N to the start of N+1. It is the sum
    of `taskQueue` (completion until a worker picks up the workflow task),
    `taskRun` (the workflow task on the worker) and `dispatch` (until the worker
    starts the activity).
    """
    applies = [span for span in spans if span.activity_type == "apply_object"]
    parts: dict[str, list[float]] = {
        "transition": [],
        "taskQueue": [],
        "taskRun": [],
        "dispatch": [],
        "activity": [],
    }
    for span in applies:
        if span.started and span.closed:
            parts["activity"].append(seconds(span.closed, span.started))
    for previous, following in zip(applies, applies[1:], strict=False):
        if not (previous.closed and following.started and following.task):
            continue
        scheduled, started, completed = following.task
        parts["transition"].append(seconds(following.started, previous.closed))
        parts["taskQueue"].append(seconds(started, previous.closed))
        parts["taskRun"].append(seconds(completed, started))
        parts["dispatch"].append(seconds(following.started, completed))
    return parts


def write_gaps(entries: list[dict[str, Any]], kind: str) -> list[float]:
    """Seconds between consecutive logged applies of `kind` in the emulator's log."""
    times = [
        entry["time"]
        for entry in entries
        if entry["event"] == "write" and entry["kind"] == kind
    ]
    return [later - earlier for earlier, later in zip(times, times[1:], strict=False)]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(values: list[float]) -> dict[str, float | None]:
    """Median, 90th percentile and maximum of `values`, None when empty."""
    if not values:
        return {"median": None, "p90": None, "max": None}
    ordered = sorted(values)
    return {
        "median": statistics.median(ordered),
        "p90": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
        "max": ordered[-1],
    }


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each process used between two `LocalStack.cpu_seconds` readings."""
    return {
        role: round(after[role] - before.get(role, 0.0), 3) for role in sorted(after)
    }
