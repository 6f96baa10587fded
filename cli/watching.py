"""Following a deployment from the terminal, and reading its progress afterwards."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.exceptions import (
    ApplicationError,
    CancelledError,
    TerminatedError,
    TimeoutError,
)
from temporalio.service import RPCError, RPCStatusCode

from cli import report, state
from cli.errors import CommandError
from clients.temporal import connect_settings, ui_url
from workflows.types import Progress

POLL_SECONDS = 0.5
QUERY_TIMEOUT = timedelta(seconds=10)


def lost_connection(name: str, namespace: str) -> CommandError:
    app = name if namespace == "default" else f"{namespace}/{name}"
    address = connect_settings()["target_host"]
    return CommandError(
        f"lost the connection to Temporal at {address}. The deployment is not affected: it goes on"
        f" in Temporal and the workers. Watch it again with: python starter.py status {app} --follow"
    )


async def follow(
    client: Client,
    handle: WorkflowHandle,
    name: str,
    namespace: str,
    *,
    output: str = "text",
    announce: bool = False,
) -> int:
    """Print progress until the deployment ends; return 0 (succeeded) or 1."""
    latest = client.get_workflow_handle(handle.id)
    printer = report.TransitionPrinter()
    state.application = (namespace, name)
    lines_to = sys.stderr if output == "json" else sys.stdout
    warned = False
    result = asyncio.ensure_future(handle.result())
    progress: Progress | None = None
    if announce:
        print(f"Following deployment {handle.id}")
    try:
        while True:
            finished = result.done()
            try:
                progress = await latest.query(
                    "progress", result_type=Progress, rpc_timeout=QUERY_TIMEOUT
                )
                warned = False
            except WorkflowQueryFailedError:
                pass  # a continued-as-new run may not respond for a moment
            except RPCError as error:
                if error.status == RPCStatusCode.UNAVAILABLE and not finished:
                    raise lost_connection(name, namespace) from None
                if not warned and not finished:
                    print(
                        f"warning: no worker answers ({error.message}); the deployment waits"
                        " until a worker polls its task queue: start one with `python worker.py`",
                        file=sys.stderr,
                        flush=True,
                    )
                    warned = True
            if progress is not None:
                for line in printer.lines(progress):
                    print(line, file=lines_to, flush=True)
            if finished:
                break
            await asyncio.wait([result], timeout=POLL_SECONDS)
    except (RPCError, RuntimeError):
        raise lost_connection(name, namespace) from None
    finally:
        if not result.done():
            result.cancel()

    run_id = handle.result_run_id or handle.run_id
    return _conclude(
        client, handle.id, run_id, result, progress, name, namespace, output
    )


def _conclude(
    client: Client,
    identifier: str,
    run_id: str | None,
    result: asyncio.Future[Any],
    progress: Progress | None,
    name: str,
    namespace: str,
    output: str,
) -> int:
    app = name if namespace == "default" else f"{namespace}/{name}"
    hint = (
        "Fix the cause (in the cluster, or in the request: pass the corrected file with"
        f" --file), then run: python starter.py retry {app}"
    )
    error = result.exception()
    if isinstance(error, RPCError):
        raise lost_connection(name, namespace)
    if error is None:
        progress = result.result()
        code, verdict = 0, "succeeded"
    elif isinstance(error, WorkflowFailureError):
        cause = error.cause
        if isinstance(cause, ApplicationError) and cause.type == "DeploymentFailed":
            progress = _progress_from_details(cause) or progress
            verdict = f"failed: {progress.first_failure if progress else cause.message}"
        elif isinstance(cause, CancelledError):
            verdict = "was cancelled"
            hint = f"Resume it with: python starter.py retry {app}"
        elif isinstance(cause, TerminatedError):
            verdict = f"was terminated: {cause.message}"
        elif isinstance(cause, TimeoutError):
            verdict = "timed out"
        else:
            verdict = f"failed: {cause}"
        code = 1
    else:
        raise CommandError(f"cannot read the outcome of {identifier}: {error}")

    if output == "json" and progress is not None:
        print(
            report.progress_json(
                progress, identifier, run_id, "completed" if code == 0 else "failed"
            )
        )
        return code
    if progress is not None:
        print()
        print(report.final_table(progress))
        print()
        print(f"Deployment of {name} {verdict} ({report.outcome_counts(progress)})")
    else:
        print(f"Deployment of {name} {verdict}")
    if progress is not None and progress.cluster:
        print(f"cluster: {progress.cluster}")
    if code:
        print(hint)
    print(f"Temporal UI: {ui_url(client.namespace, identifier)}")
    return code


def _progress_from_details(cause: ApplicationError) -> Progress | None:
    if not cause.details:
        return None
    try:
        return Progress.model_validate(cause.details[0])
    except (ValueError, TypeError):
        return None


async def read_progress(
    client: Client, handle: WorkflowHandle, description: Any
) -> Progress:
    """The progress of a deployment, running or finished.

    The `progress` query answers for finished runs too (a worker replays them). When no
    worker answers, a failed or successful run still reports through its outcome.
    """
    try:
        return await handle.query(
            "progress", result_type=Progress, rpc_timeout=QUERY_TIMEOUT
        )
    except (WorkflowQueryFailedError, RPCError) as error:
        if isinstance(error, RPCError) and error.status == RPCStatusCode.UNAVAILABLE:
            raise CommandError(
                f"lost the connection to Temporal at {connect_settings()['target_host']}"
                f" while reading {handle.id}; try again when it is reachable"
            ) from None
        fallback = await _progress_from_outcome(handle, description)
        if fallback is not None:
            return fallback
        raise CommandError(
            f"no worker responded to the progress query for {handle.id}; start one with `python worker.py`"
        ) from None


async def _progress_from_outcome(
    handle: WorkflowHandle, description: Any
) -> Progress | None:
    if description.status == WorkflowExecutionStatus.COMPLETED:
        return await handle.result(follow_runs=False, rpc_timeout=QUERY_TIMEOUT)
    if description.status == WorkflowExecutionStatus.FAILED:
        try:
            await handle.result(follow_runs=False, rpc_timeout=QUERY_TIMEOUT)
        except WorkflowFailureError as error:
            if isinstance(error.cause, ApplicationError):
                return _progress_from_details(error.cause)
    return None
