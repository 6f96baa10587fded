"""The commands that talk to Temporal: deploy, status, list, retry, cancel, approve.

Each command returns its exit code. Network trouble with Temporal never loses a
deployment, because it runs on the server and the workers; the command prints
that and how to resume watching.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import socket
import sys
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import (
    ApplicationError,
    CancelledError,
    WorkflowAlreadyStartedError,
)
from temporalio.service import RPCError, RPCStatusCode

import oam
from cli import planview, report
from cli.errors import CommandError, UsageError
from cli.main import read_request
from cli.watching import follow, lost_connection, read_progress
from clients.temporal import (
    connect,
    connect_settings,
    encryption_enabled,
    task_queue,
    ui_url,
)
from workflows.types import (
    ATTRIBUTE_APPLICATION,
    ATTRIBUTE_NAMESPACE,
    ATTRIBUTE_PROJECT,
    WORKFLOW_NAME,
    ApprovalDecision,
    ApprovalOutcome,
    DeployInput,
    DeployOptions,
    JobState,
    ObjectRef,
    PreviousJob,
    Progress,
    ResumeState,
    StepState,
    workflow_id,
)

APPLICATION_KEY = SearchAttributeKey.for_keyword(ATTRIBUTE_APPLICATION)
NAMESPACE_KEY = SearchAttributeKey.for_keyword(ATTRIBUTE_NAMESPACE)
PROJECT_KEY = SearchAttributeKey.for_keyword(ATTRIBUTE_PROJECT)


def deploy(arguments: argparse.Namespace) -> int:
    loaded = read_request(arguments.file)
    return asyncio.run(_deploy(loaded, arguments))


def status(arguments: argparse.Namespace) -> int:
    return asyncio.run(_status(arguments))


def list_deployments(arguments: argparse.Namespace) -> int:
    return asyncio.run(_list(arguments))


def retry(arguments: argparse.Namespace) -> int:
    application = read_request(arguments.file).application if arguments.file else None
    return asyncio.run(_retry(arguments, application))


def cancel(arguments: argparse.Namespace) -> int:
    return asyncio.run(_cancel(arguments))


def approve(arguments: argparse.Namespace) -> int:
    return asyncio.run(_approve(arguments))


def codec_server(arguments: argparse.Namespace) -> int:
    from cli.codecserver import serve

    return serve(arguments.host, arguments.port, arguments.cors_origin)


# --- shared -------------------------------------------------------------------------


def options_from_environment() -> DeployOptions:
    """Deployment settings that operators tune by environment (tests shorten them)."""
    import os

    values: dict[str, Any] = {}
    for field, variable in (
        ("heartbeat_timeout_seconds", "OAMFLOW_HEARTBEAT_TIMEOUT"),
        ("default_timeout_seconds", "OAMFLOW_DEFAULT_TIMEOUT"),
        ("backoff_grace_seconds", "OAMFLOW_BACKOFF_GRACE"),
        ("poll_interval_seconds", "OAMFLOW_POLL_INTERVAL"),
        ("max_history_events", "OAMFLOW_MAX_HISTORY_EVENTS"),
    ):
        text = os.environ.get(variable)
        if text:
            try:
                value = float(text) if field != "max_history_events" else int(text)
            except ValueError:
                raise UsageError(f"{variable}={text!r} is not a number") from None
            if value <= 0:
                raise UsageError(f"{variable}={text!r} must be greater than zero")
            values[field] = value
    return DeployOptions(**values)


async def _client() -> Client:
    settings = connect_settings()
    try:
        return await connect(quiet=True)
    except RuntimeError as error:
        raise CommandError(
            f"cannot connect to Temporal at {settings['target_host']} (namespace {settings['namespace']}): {error}."
            " Start the local stack with `make stack` (or `python -m localstack`), or set TEMPORAL_ADDRESS."
        ) from None


def app_identity(arguments: argparse.Namespace) -> tuple[str, str]:
    """(namespace, name) from `NAME` plus --namespace, or from `NAMESPACE/NAME`."""
    app = arguments.app
    namespace = arguments.namespace
    if "/" in app:
        prefix, _, app = app.partition("/")
        if not prefix or not app:
            raise UsageError(
                f"invalid application {arguments.app!r}: write NAME or NAMESPACE/NAME"
            )
        if namespace and namespace != prefix:
            raise UsageError(
                f"the application {arguments.app!r} and --namespace {namespace!r} disagree"
            )
        namespace = prefix
    return namespace or "default", app


async def _describe(
    client: Client, namespace: str, name: str
) -> tuple[WorkflowHandle, Any]:
    handle = client.get_workflow_handle(workflow_id(namespace, name))
    try:
        description = await handle.describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            hint = " (application names are lowercase)" if name != name.lower() else ""
            raise UsageError(
                f"no deployment of application {name!r} in namespace {namespace!r} is known to"
                f" Temporal{hint}; see `python starter.py list`"
            ) from None
        raise lost_connection(name, namespace) from None
    latest = client.get_workflow_handle(
        handle.id, run_id=description.run_id, result_type=Progress
    )
    return latest, description


def _app_argument(namespace: str, name: str) -> str:
    return name if namespace == "default" else f"{namespace}/{name}"


# --- deploy -------------------------------------------------------------------------


async def _deploy(loaded: oam.LoadedApplication, arguments: argparse.Namespace) -> int:
    application = loaded.application
    plan = loaded.plan()
    if (
        any(component.type == "secret" for component in application.components)
        and not encryption_enabled()
    ):
        print(
            "warning: no payload codec key is configured (OAMFLOW_CODEC_KEY or OAMFLOW_CODEC_KEY_FILE):"
            " the values of secret components will be stored in plaintext in Temporal's history",
            file=sys.stderr,
        )
    client = await _client()
    owned = await _previously_owned(client, application)
    return await start_and_follow(
        client,
        DeployInput(
            application=application, options=options_from_environment(), owned=owned
        ),
        plan,
        detach=arguments.detach,
        output=arguments.output,
    )


async def _previously_owned(
    client: Client, application: oam.Application
) -> list[ObjectRef]:
    """Objects earlier deployments of the application created, for pruning."""
    handle = client.get_workflow_handle(
        workflow_id(application.namespace, application.name), result_type=Progress
    )
    try:
        description = await handle.describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return []
        raise CommandError(
            f"cannot read the previous deployment of {application.name}: {error.message}"
        ) from None
    if description.status == WorkflowExecutionStatus.RUNNING:
        return []  # starting is refused below, with the reason
    try:
        progress = await read_progress(client, handle, description)
    except CommandError as error:
        print(
            f"warning: {error}; objects the previous deployment created are not pruned",
            file=sys.stderr,
        )
        return []
    return owned_objects(progress)


def owned_objects(progress: Progress) -> list[ObjectRef]:
    if progress.owned:
        return list(progress.owned)
    # Runs recorded before `owned` existed: the objects they created.
    return [ObjectRef.of_job(job, job.uid) for job in progress.jobs if job.created]


async def start_and_follow(
    client: Client,
    deploy_input: DeployInput,
    plan: oam.Plan,
    *,
    detach: bool,
    output: str = "text",
) -> int:
    application = deploy_input.application
    identifier = workflow_id(application.namespace, application.name)
    attributes = [
        SearchAttributePair(APPLICATION_KEY, application.name),
        SearchAttributePair(NAMESPACE_KEY, application.namespace),
    ]
    if application.project:
        attributes.append(SearchAttributePair(PROJECT_KEY, application.project))
    summary = f"deploy {application.name} to namespace {application.namespace}: {len(plan.steps)} steps, {len(plan.jobs)} objects"
    if application.alias:
        summary = f"{application.alias}: {summary}"
    try:
        handle = await client.start_workflow(
            WORKFLOW_NAME,
            deploy_input,
            id=identifier,
            task_queue=task_queue(),
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=TypedSearchAttributes(attributes),
            static_summary=summary,
            static_details=_static_details(plan, application),
            result_type=Progress,
        )
    except WorkflowAlreadyStartedError:
        name = _app_argument(application.namespace, application.name)
        raise UsageError(
            f"a deployment of {application.name!r} in namespace {application.namespace!r} is already running"
            f" (workflow {identifier}); watch it with `python starter.py status {name} --follow`"
            f" or stop it with `python starter.py cancel {name}`"
        ) from None
    except RPCError as error:
        raise CommandError(f"cannot start the deployment: {error.message}") from None

    # With JSON output, standard output carries the final report only.
    stream = sys.stderr if output == "json" else sys.stdout
    print(f"Started deployment {identifier} (run {handle.result_run_id})", file=stream)
    print(f"Temporal UI: {ui_url(client.namespace, identifier)}", file=stream)
    if detach:
        app = _app_argument(application.namespace, application.name)
        print(f"Follow it with: python starter.py status {app} --follow", file=stream)
        return 0
    return await follow(
        client, handle, application.name, application.namespace, output=output
    )


def _static_details(plan: oam.Plan, application: oam.Application) -> str:
    text = planview.plan_table(plan, application)
    if len(text) > 20_000:
        text = text[:20_000] + "\n…"
    return "```\n" + text + "\n```"


# --- status and list ----------------------------------------------------------------


async def _status(arguments: argparse.Namespace) -> int:
    namespace, name = app_identity(arguments)
    client = await _client()
    handle, description = await _describe(client, namespace, name)
    if arguments.follow and description.status == WorkflowExecutionStatus.RUNNING:
        return await follow(
            client, handle, name, namespace, output=arguments.output, announce=True
        )
    progress = await read_progress(client, handle, description)
    if description.status == WorkflowExecutionStatus.RUNNING:
        await _add_wait_details(client, description, progress)
    temporal_status = (
        description.status.name.lower() if description.status else "unknown"
    )
    if arguments.output == "json":
        print(
            report.progress_json(
                progress, handle.id, description.run_id, temporal_status
            )
        )
    else:
        print(_status_heading(progress, handle.id, temporal_status))
        print(report.final_table(progress))
        print(f"Temporal UI: {ui_url(client.namespace, handle.id)}")
    failed = description.status not in (
        WorkflowExecutionStatus.RUNNING,
        WorkflowExecutionStatus.COMPLETED,
    )
    return 1 if failed else 0


async def _add_wait_details(
    client: Client, description: Any, progress: Progress
) -> None:
    """Show what running waits report in their heartbeats: replica counts, pod reasons."""
    jobs = {
        f"wait {job.id}": job for job in progress.jobs if job.state == JobState.WAITING
    }
    for pending in description.raw_description.pending_activities:
        job = jobs.get(pending.activity_id)
        if job is None or not pending.heartbeat_details.payloads:
            continue
        try:
            details = (
                await client.data_converter.decode(pending.heartbeat_details.payloads)
            )[-1]
        except Exception:  # a heartbeat we cannot read must not break status
            continue
        if isinstance(details, dict):
            parts = [
                str(details.get(key)) for key in ("waiting", "pods") if details.get(key)
            ]
            if pending.attempt > 1:
                parts.append(f"attempt {pending.attempt}")
            job.message = "; ".join(parts)


def _status_heading(progress: Progress, identifier: str, temporal_status: str) -> str:
    lines = [
        f"Deployment {identifier}: {progress.state.value} ({report.outcome_counts(progress)})"
    ]
    if progress.cluster:
        lines.append(f"cluster: {progress.cluster}")
    lines.append(
        f"started {progress.started_at:%Y-%m-%d %H:%M:%S} UTC"
        if progress.started_at
        else "not started"
    )
    if progress.first_failure:
        lines.append(f"first failure: {progress.first_failure}")
    for step in progress.awaiting_approval():
        lines.append(
            f"step {step} awaits approval: python starter.py approve {_app_argument(progress.namespace, progress.application)} --step {step}"
        )
    return "\n".join(lines)


STATUS_NAMES = {
    WorkflowExecutionStatus.RUNNING: "running",
    WorkflowExecutionStatus.COMPLETED: "succeeded",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.CANCELED: "cancelled",
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.TIMED_OUT: "timed out",
    WorkflowExecutionStatus.CONTINUED_AS_NEW: "continued",
}


async def _list(arguments: argparse.Namespace) -> int:
    if arguments.limit < 1:
        raise UsageError("--limit must be at least 1")
    client = await _client()
    clauses = [f"WorkflowType = '{WORKFLOW_NAME}'"]
    for key, value in (
        (ATTRIBUTE_NAMESPACE, arguments.namespace),
        (ATTRIBUTE_PROJECT, arguments.project),
    ):
        if value is not None:
            if "'" in value or "\\" in value:
                raise UsageError(f"invalid filter value {value!r}")
            clauses.append(f"{key} = '{value}'")
    query = " AND ".join(clauses)
    rows: dict[str, Any] = {}
    try:
        async for execution in client.list_workflows(query, limit=arguments.limit * 4):
            if (
                execution.status == WorkflowExecutionStatus.CONTINUED_AS_NEW
                or execution.id in rows
            ):
                continue
            rows[execution.id] = execution
            if len(rows) >= arguments.limit:
                break
    except RPCError as error:
        raise CommandError(f"cannot list deployments: {error.message}") from None

    entries = []
    for execution in rows.values():
        attributes = execution.typed_search_attributes
        entries.append(
            {
                "application": attributes.get(APPLICATION_KEY) or execution.id,
                "namespace": attributes.get(NAMESPACE_KEY) or "",
                "project": attributes.get(PROJECT_KEY) or "",
                "state": STATUS_NAMES.get(execution.status, str(execution.status)),
                "started": execution.start_time.strftime("%Y-%m-%d %H:%M:%S")
                if execution.start_time
                else "",
                "closed": execution.close_time.strftime("%Y-%m-%d %H:%M:%S")
                if execution.close_time
                else "",
                "workflowId": execution.id,
            }
        )
    if arguments.output == "json":
        import json

        print(json.dumps(entries, indent=2))
        return 0
    if not entries:
        print("No deployments found.")
        return 0
    headers = [
        "APPLICATION",
        "NAMESPACE",
        "PROJECT",
        "STATE",
        "STARTED (UTC)",
        "CLOSED (UTC)",
    ]
    keys = ["application", "namespace", "project", "state", "started", "closed"]
    table = [headers] + [[entry[key] for key in keys] for entry in entries]
    widths = [max(len(row[index]) for row in table) for index in range(len(headers))]
    for row in table:
        print(
            "  ".join(
                cell.ljust(widths[index]) for index, cell in enumerate(row)
            ).rstrip()
        )
    return 0


# --- retry, cancel, approve -----------------------------------------------------------


async def _retry(
    arguments: argparse.Namespace, application: oam.Application | None
) -> int:
    namespace, name = app_identity(arguments)
    client = await _client()
    handle, description = await _describe(client, namespace, name)
    if description.status == WorkflowExecutionStatus.RUNNING:
        raise UsageError(
            f"the deployment of {name!r} is still running; wait for it, or cancel it first"
        )
    if description.status == WorkflowExecutionStatus.COMPLETED and application is None:
        raise UsageError(
            f"the deployment of {name!r} succeeded: there is nothing to retry (use deploy to change it)"
        )

    previous_input = await _first_input(client, handle)
    progress = await read_progress(client, handle, description)
    if application is not None and (application.name, application.namespace) != (
        name,
        namespace,
    ):
        raise UsageError(
            f"--file describes {application.namespace}/{application.name}, not {namespace}/{name}"
        )
    resume = resume_state(progress, previous_input.resume)
    deploy_input = DeployInput(
        application=application or previous_input.application,
        options=options_from_environment(),
        resume=resume,
        owned=owned_objects(progress),
    )
    ready = sum(1 for job in resume.jobs.values() if job.ready)
    print(
        f"Retrying {name}: {ready} objects were ready and are applied again only if they drifted"
    )
    return await start_and_follow(
        client,
        deploy_input,
        oam.build_plan(deploy_input.application),
        detach=arguments.detach,
    )


def resume_state(progress: Progress, earlier: ResumeState | None) -> ResumeState:
    """Build what a retry reuses from a finished run: ready jobs, created objects, approvals."""
    jobs: dict[str, PreviousJob] = dict(earlier.jobs) if earlier else {}
    cleaned = {entry.job_id for entry in progress.cleanup if entry.deleted}
    for job in progress.jobs:
        before = jobs.get(job.id)
        created = job.created or bool(before and before.created)
        ready = job.state == JobState.READY and job.id not in cleaned
        if job.id in cleaned:
            created = False
        if ready or created:
            jobs[job.id] = PreviousJob(
                created=created,
                uid=job.uid or (before.uid if before else None),
                ready=ready,
            )
        elif job.id in jobs:
            jobs[job.id] = PreviousJob(created=False, uid=None, ready=False)
    approvals = dict(earlier.approvals) if earlier else {}
    for step in progress.steps:
        if (
            step.approval is not None
            and step.approval.approved
            and step.state == StepState.SUCCEEDED
        ):
            approvals[step.name] = step.approval
    return ResumeState(jobs=jobs, approvals=approvals, run_count=progress.run_count + 1)


async def _first_input(client: Client, handle: WorkflowHandle) -> DeployInput:
    async for event in handle.fetch_history_events():
        attributes = event.workflow_execution_started_event_attributes
        values = await client.data_converter.decode(
            attributes.input.payloads, [DeployInput]
        )
        return values[0]
    raise CommandError(f"the history of {handle.id} is empty")


async def _cancel(arguments: argparse.Namespace) -> int:
    namespace, name = app_identity(arguments)
    client = await _client()
    handle, description = await _describe(client, namespace, name)
    if description.status != WorkflowExecutionStatus.RUNNING:
        state = STATUS_NAMES.get(description.status, "finished")
        raise UsageError(
            f"the deployment of {name!r} is not running (it {state}); nothing to cancel"
        )
    await handle.cancel()
    print(f"Cancellation requested for {handle.id}; waiting for running jobs to stop…")
    try:
        await asyncio.wait_for(handle.result(), timeout=600)
    except WorkflowFailureError as error:
        if not isinstance(error.cause, CancelledError):
            print(
                f"the deployment ended before it could be cancelled: {error.cause}",
                file=sys.stderr,
            )
    except TimeoutError:
        raise CommandError(
            "the deployment has not stopped within 10 minutes; check the workers"
        ) from None
    latest, description = await _describe(client, namespace, name)
    progress = await read_progress(client, latest, description)
    applied = [
        job
        for job in progress.jobs
        if job.state == JobState.READY
        or (job.changed and job.state != JobState.PENDING)
    ]
    print(
        f"Deployment {handle.id} is {STATUS_NAMES.get(description.status, 'finished')}."
    )
    noun = "object" if len(applied) == 1 else "objects"
    print(
        f"Applied before the cancellation: {len(applied)} {noun}"
        + (":" if applied else "")
    )
    for job in applied:
        outcome = "ready" if job.state == JobState.READY else "applied, not yet ready"
        print(f"  {job.describe()} ({outcome})")
    print(report.final_table(progress))
    app = _app_argument(namespace, name)
    print(f"Resume it with: python starter.py retry {app}")
    return 0


async def _approve(arguments: argparse.Namespace) -> int:
    namespace, name = app_identity(arguments)
    client = await _client()
    handle, description = await _describe(client, namespace, name)
    if description.status != WorkflowExecutionStatus.RUNNING:
        raise UsageError(
            f"the deployment of {name!r} is not running; there is nothing to approve"
        )
    decision = ApprovalDecision(
        step=arguments.step,
        approve=not arguments.reject,
        reason=arguments.reason,
        identity=f"{getpass.getuser()}@{socket.gethostname()}",
    )
    try:
        outcome = await handle.execute_update(
            "approve", decision, result_type=ApprovalOutcome
        )
    except WorkflowUpdateFailedError as error:
        cause = error.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause)
        raise UsageError(f"cannot approve: {message}") from None
    verb = "approved" if outcome.approved else "rejected"
    print(f"Step {outcome.step} of {name} {verb}.")
    return 0
