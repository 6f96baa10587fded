"""Reading workflow histories: every run of a workflow ID, event counts, payload sizes.

A deployment that continues as new has several runs under one workflow ID. The
runs are listed through visibility (`WorkflowId = '...'`) and also found by
following each run's continued-as-new event, so a run that visibility has not
indexed yet is still counted.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

PAYLOAD = "temporal.api.common.v1.Payload"
# Temporal's default limits (dynamic config `limit.blobSize.error`,
# `limit.historyCount.error` and `limit.historySize.error`).
PAYLOAD_LIMIT_BYTES = 2 * 1024 * 1024
HISTORY_EVENT_LIMIT = 51_200
HISTORY_SIZE_LIMIT_BYTES = 50 * 1024 * 1024


@dataclass
class RunHistory:
    run_id: str
    events: list[HistoryEvent]

    @property
    def size_bytes(self) -> int:
        """Serialized size of the events, the quantity Temporal's history size limit counts."""
        return sum(event.ByteSize() for event in self.events)


@dataclass
class PayloadRecord:
    size: int
    event_type: str
    event_id: int
    run_id: str


@dataclass
class HistorySummary:
    runs: list[RunHistory]
    # Runs that visibility lists for the workflow ID (it may lag behind the chain).
    listed_runs: int = 0
    payloads: list[PayloadRecord] = field(default_factory=list)

    @property
    def total_events(self) -> int:
        return sum(len(run.events) for run in self.runs)

    @property
    def largest_payload(self) -> PayloadRecord | None:
        return max(self.payloads, key=lambda record: record.size, default=None)

    def to_json(self) -> dict[str, Any]:
        largest = self.largest_payload
        started = self.runs[0].events[0].workflow_execution_started_event_attributes
        return {
            "runs": len(self.runs),
            "listedRuns": self.listed_runs,
            "totalEvents": self.total_events,
            "eventsPerRun": [len(run.events) for run in self.runs],
            "maxEventsPerRun": max(len(run.events) for run in self.runs),
            "historyBytesPerRun": [run.size_bytes for run in self.runs],
            "maxHistoryBytesPerRun": max(run.size_bytes for run in self.runs),
            "largestPayloadBytes": largest.size if largest else 0,
            "largestPayloadEvent": largest.event_type if largest else None,
            "workflowInputBytes": sum(
                payload.ByteSize() for payload in started.input.payloads
            ),
            "limits": {
                "payloadBytes": PAYLOAD_LIMIT_BYTES,
                "eventsPerRun": HISTORY_EVENT_LIMIT,
                "historyBytesPerRun": HISTORY_SIZE_LIMIT_BYTES,
            },
        }


def event_name(event: HistoryEvent) -> str:
    return EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")


def event_time(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)


def _payload_sizes(message: Message, sizes: list[int]) -> None:
    """Append the serialized size of every `Payload` nested in `message`."""
    for descriptor, value in message.ListFields():
        if descriptor.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        if descriptor.message_type.GetOptions().map_entry:
            value_field = descriptor.message_type.fields_by_name["value"]
            if value_field.type != FieldDescriptor.TYPE_MESSAGE:
                continue
            items = list(value.values())
        elif descriptor.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            if item.DESCRIPTOR.full_name == PAYLOAD:
                sizes.append(item.ByteSize())
            else:
                _payload_sizes(item, sizes)


async def fetch_histories(
    client: Client, workflow_id: str, first_run_id: str
) -> HistorySummary:
    """Fetch every run of `workflow_id`, starting from `first_run_id`."""
    runs: list[RunHistory] = []
    run_id: str | None = first_run_id
    seen: set[str] = set()
    while run_id and run_id not in seen:
        seen.add(run_id)
        history = await client.get_workflow_handle(
            workflow_id, run_id=run_id
        ).fetch_history()
        runs.append(RunHistory(run_id, list(history.events)))
        last = history.events[-1]
        run_id = None
        if last.HasField("workflow_execution_continued_as_new_event_attributes"):
            attributes = last.workflow_execution_continued_as_new_event_attributes
            run_id = attributes.new_execution_run_id

    # Visibility is eventually consistent: give it a moment to index the last run.
    listed: set[str] = set()
    for _ in range(20):
        listed = {
            execution.run_id
            async for execution in client.list_workflows(
                f"WorkflowId = '{workflow_id}'"
            )
        }
        if seen <= listed:
            break
        await asyncio.sleep(0.25)
    for extra in sorted(listed - seen):
        history = await client.get_workflow_handle(
            workflow_id, run_id=extra
        ).fetch_history()
        runs.append(RunHistory(extra, list(history.events)))

    summary = HistorySummary(runs, listed_runs=len(listed))
    for run in runs:
        for event in run.events:
            sizes: list[int] = []
            _payload_sizes(event, sizes)
            summary.payloads += [
                PayloadRecord(size, event_name(event), event.event_id, run.run_id)
                for size in sizes
            ]
    return summary
