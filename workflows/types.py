"""Values that cross the Temporal boundary: workflow input and output, activity
inputs and results, queries and updates. All are pydantic models, carried by
Temporal's pydantic data converter, serialized with camelCase keys.

Payload size matters (Temporal rejects payloads over 2 MB): an activity input
carries one manifest, never the whole request, and results carry identities and
messages, never objects.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from pydantic.alias_generators import to_camel

from oam.model import Application, RetryPolicy

TASK_QUEUE = "oamflow"
WORKFLOW_NAME = "DeployApplication"
FIELD_MANAGER = "oamflow"

# Search attributes, registered on the server by the worker at start.
ATTRIBUTE_APPLICATION = "OamflowApplication"
ATTRIBUTE_NAMESPACE = "OamflowNamespace"
ATTRIBUTE_PROJECT = "OamflowProject"


def workflow_id(namespace: str, name: str) -> str:
    """Derive the workflow ID from the application, so one deployment per application runs at a time."""
    return f"deploy-{namespace}-{name}"


class Message(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True
    )


# --- activities ---------------------------------------------------------------------


class ApplyInput(Message):
    job_id: str
    application: str
    manifest: dict[str, Any]
    retry: RetryPolicy
    # On a retried deployment, an object that already matches is not written again.
    skip_if_unchanged: bool = False


class ApplyResult(Message):
    created: bool
    changed: bool
    ready: bool
    message: str = ""
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    namespace: str | None = None


class WaitInput(Message):
    job_id: str
    application: str
    api_version: str
    kind: str
    namespace: str | None
    name: str
    deadline: datetime
    timeout_seconds: float
    timeout_reason: str = ""
    generation: int | None = None
    backoff_grace_seconds: float
    poll_interval_seconds: float
    retry: RetryPolicy


class WaitResult(Message):
    message: str = ""


class DeleteInput(Message):
    job_id: str
    application: str
    api_version: str
    kind: str
    namespace: str | None
    name: str
    uid: str | None
    retry: RetryPolicy


class DeleteResult(Message):
    deleted: bool
    message: str = ""


class PreflightInput(Message):
    application: str
    namespace: str
    # (apiVersion, kind) pairs the plan applies, except those whose CRD it also applies.
    kinds: list[tuple[str, str]]
    retry: RetryPolicy


class PreflightResult(Message):
    cluster: str
    emulator: bool


# --- the deployment workflow --------------------------------------------------------


class DeployOptions(Message):
    """Settings of one deployment that are not part of the application request."""

    default_timeout_seconds: float = 300.0
    heartbeat_timeout_seconds: float = 30.0
    # Pods in image pull or crash-loop back-off longer than this fail their job.
    backoff_grace_seconds: float = 30.0
    poll_interval_seconds: float = 1.0
    # Continue as new past this many history events (Temporal's hard limit is 51,200).
    max_history_events: int = 10_000


class JobState(StrEnum):
    PENDING = "pending"
    APPLYING = "applying"
    WAITING = "waiting"
    READY = "ready"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class StepState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting-approval"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    NOT_STARTED = "not-started"
    CANCELLED = "cancelled"


class CompactMessage(Message):
    """A message serialized without its None, False and empty-text fields.

    A deployment of 1,000 components has 3,000 job entries in every query answer
    and continue-as-new input, so fields at such defaults are left out.
    """

    @model_serializer(mode="wrap")
    def _without_defaults(
        self, handler: SerializerFunctionWrapHandler
    ) -> dict[str, Any]:
        data = handler(self)
        return {key: value for key, value in data.items() if not _is_default(value)}


def _is_default(value: Any) -> bool:
    return value is None or value is False or (isinstance(value, str) and value == "")


class JobProgress(CompactMessage):
    id: str
    step: str
    sub_step: str | None = None
    execution: int
    tier: str
    component: str
    kind: str
    api_version: str
    namespace: str | None
    name: str
    state: JobState = JobState.PENDING
    started_at: datetime | None = None
    # When the apply was done and the wait for readiness began.
    waiting_since: datetime | None = None
    finished_at: datetime | None = None
    message: str = ""
    created: bool = False
    changed: bool = False
    unchanged_since_previous_run: bool = False
    uid: str | None = None

    def describe(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"

    def record(self) -> JobRecord:
        """The part of this job's progress that is not derived from the plan."""
        return JobRecord(
            id=self.id,
            state=self.state,
            started_at=self.started_at,
            waiting_since=self.waiting_since,
            finished_at=self.finished_at,
            message=self.message,
            created=self.created,
            changed=self.changed,
            unchanged_since_previous_run=self.unchanged_since_previous_run,
            uid=self.uid,
        )


class JobRecord(CompactMessage):
    """A job's progress without what the plan determines, carried to a continued run."""

    id: str
    state: JobState = JobState.PENDING
    started_at: datetime | None = None
    waiting_since: datetime | None = None
    finished_at: datetime | None = None
    message: str = ""
    created: bool = False
    changed: bool = False
    unchanged_since_previous_run: bool = False
    uid: str | None = None


class Approval(Message):
    approved: bool
    reason: str = ""
    decided_at: datetime | None = None
    identity: str = ""


class StepProgress(Message):
    name: str
    type: str
    state: StepState = StepState.PENDING
    started_at: datetime | None = None
    finished_at: datetime | None = None
    message: str = ""
    approval: Approval | None = None
    next_execution: int = 0


class ObjectRef(Message):
    """An object a deployment of the application created, remembered for pruning."""

    job_id: str
    api_version: str
    kind: str
    namespace: str | None
    name: str
    uid: str | None = None

    @classmethod
    def of_job(cls, job: Any, uid: str | None) -> ObjectRef:
        return cls(
            job_id=job.id,
            api_version=job.api_version,
            kind=job.kind,
            namespace=job.namespace,
            name=job.name,
            uid=uid,
        )

    def describe(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"


class CleanupEntry(Message):
    """Outcome of deleting one object, by cleanup or pruning."""

    job_id: str
    object: str
    deleted: bool
    message: str


class DeploymentState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    CLEANING_UP = "cleaning-up"


class Progress(Message):
    """Live state of a deployment; the `progress` query returns it."""

    application: str
    namespace: str
    project: str | None = None
    alias: str | None = None
    state: DeploymentState = DeploymentState.RUNNING
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cluster: str = ""
    first_failure: str = ""
    failure_policy: str = "keep"
    cleanup: list[CleanupEntry] = []
    pruned: list[CleanupEntry] = []
    # Objects the application's deployments created and still own after this run.
    owned: list[ObjectRef] = []
    steps: list[StepProgress] = []
    jobs: list[JobProgress] = []
    run_count: int = 1

    def awaiting_approval(self) -> list[str]:
        return [
            step.name
            for step in self.steps
            if step.state == StepState.AWAITING_APPROVAL
        ]


class PreviousJob(Message):
    """State of one job in an earlier run of the same deployment, reused by a retry."""

    created: bool
    uid: str | None = None
    ready: bool = False


class ResumeState(Message):
    """Carried into a retry: jobs already ready, objects created, approvals given."""

    jobs: dict[str, PreviousJob] = {}
    approvals: dict[str, Approval] = {}
    run_count: int = 1


class DeployInput(Message):
    application: Application
    options: DeployOptions = DeployOptions()
    resume: ResumeState | None = None
    # Objects earlier deployments of the application created; those the request
    # no longer contains are pruned once this deployment succeeds.
    owned: list[ObjectRef] = []
    # Set only when the workflow continues as new: where the previous run stopped.
    # Its `jobs` is empty; `carried_jobs` holds the jobs that had started.
    carried: Progress | None = None
    carried_jobs: list[JobRecord] = []
    cluster: str = ""


class ApprovalDecision(Message):
    step: str | None = None
    approve: bool = True
    reason: str = ""
    identity: str = ""


class ApprovalOutcome(Message):
    step: str
    approved: bool
