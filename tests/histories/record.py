"""Record workflow histories for the replay tests: `python -m tests.histories.record`.

Runs representative deployments on a fresh dev server and emulator and writes
each run's history as JSON next to this file. Record again only when a change to
the workflow is meant to be incompatible with old histories; otherwise guard the
change with `workflow.patched` and keep the old histories, so the replay tests
prove that running deployments survive the upgrade of their workers.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

import oam
from tests.conftest import TEST_OPTIONS, config, request_for, start_emulator, web
from worker import build_worker
from workflows.types import (
    ATTRIBUTE_APPLICATION,
    ATTRIBUTE_NAMESPACE,
    ATTRIBUTE_PROJECT,
    WORKFLOW_NAME,
    ApprovalDecision,
    ApprovalOutcome,
    DeployInput,
    PreviousJob,
    Progress,
    ResumeState,
    workflow_id,
)

FOLDER = Path(__file__).resolve().parent


async def start(
    client: Client, task_queue: str, request: dict, **fields
) -> WorkflowHandle:
    application = oam.validate_document(request).application
    options = fields.pop("options", TEST_OPTIONS)
    return await client.start_workflow(
        WORKFLOW_NAME,
        DeployInput(application=application, options=options, **fields),
        id=workflow_id(application.namespace, application.name),
        task_queue=task_queue,
        result_type=Progress,
    )


async def finish(handle: WorkflowHandle) -> None:
    try:
        await asyncio.wait_for(handle.result(), timeout=120)
    except WorkflowFailureError:
        pass


async def save(client: Client, handle: WorkflowHandle, name: str) -> None:
    """Write every run of the workflow, oldest first, as NAME.json, NAME-2.json, ..."""
    runs = []
    run_id: str | None = handle.first_execution_run_id or handle.result_run_id
    while run_id:
        history = await client.get_workflow_handle(
            handle.id, run_id=run_id
        ).fetch_history()
        runs.append(history)
        last = history.events[-1]
        attributes = last.workflow_execution_continued_as_new_event_attributes
        run_id = (
            attributes.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else None
        )
    for index, history in enumerate(runs):
        suffix = "" if index == 0 else f"-{index + 1}"
        path = FOLDER / f"{name}{suffix}.json"
        path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")
        print(
            f"wrote {path.relative_to(FOLDER.parents[1])} ({len(history.events)} events)"
        )


async def record(client: Client, cluster, task_queue: str) -> None:
    control = cluster.control

    # A plain success with StepByStep and DAG steps and all three tiers.
    site = web(
        "site",
        traits={
            "storage": [{"name": "data", "type": "persistent", "mountPath": "/data"}],
            "ingress": [{"host": "site.example.com"}],
        },
    )
    request = request_for(
        "history-success",
        [config("settings"), site],
        [
            {"name": "config", "components": ["settings"]},
            {"name": "site", "mode": "DAG", "components": ["site"]},
        ],
    )
    handle = await start(client, task_queue, request)
    await finish(handle)
    await save(client, handle, "success")

    # A failure with cleanup, then a retry of it that resumes.
    control.set_image_fault("registry.example.com/broken:*", "pull")
    broken = web("api", image="registry.example.com/broken:1")
    request = request_for(
        "history-failure", [config("settings"), broken], failurePolicy="cleanup"
    )
    handle = await start(client, task_queue, request)
    await finish(handle)
    await save(client, handle, "failure-cleanup")
    control.set_image_fault("registry.example.com/broken:*", None)
    resume = ResumeState(
        jobs={"ConfigMap/default/settings": PreviousJob(created=True, ready=True)},
        run_count=2,
    )
    handle = await start(
        client,
        task_queue,
        request_for("history-failure", [config("settings"), web("api")]),
        resume=resume,
    )
    await finish(handle)
    await save(client, handle, "retry")

    # A cancellation while a DAG tier waits.
    control.hold(kind="Deployment")
    request = request_for(
        "history-cancel",
        [web("a"), web("b")],
        [{"name": "all", "mode": "DAG", "components": ["a", "b"]}],
    )
    handle = await start(client, task_queue, request)
    await asyncio.to_thread(
        control.wait_for_event, "write", "Deployment", "b", timeout=60
    )
    await asyncio.sleep(1)
    await handle.cancel()
    await finish(handle)
    await save(client, handle, "cancelled")
    control.release()

    # An approval gate, dependsOn and conditions.
    request = request_for(
        "history-approval",
        [config("canary"), web("rollout"), config("notify")],
        [
            {"name": "canary"},
            {"name": "gate", "type": "approval", "timeout": "1h"},
            {"name": "rollout", "mode": "DAG", "maxConcurrency": 1},
            {"name": "notify", "dependsOn": ["rollout"], "if": "always()"},
        ],
    )
    handle = await start(client, task_queue, request)
    for _ in range(300):
        progress = await handle.query("progress", result_type=Progress)
        if progress.awaiting_approval():
            break
        await asyncio.sleep(0.1)
    await handle.execute_update(
        "approve",
        ApprovalDecision(step="gate", reason="recorded"),
        result_type=ApprovalOutcome,
    )
    await finish(handle)
    await save(client, handle, "approval")

    # A re-deploy that prunes an object the request dropped.
    request = request_for("history-prune", [config("kept"), config("dropped")])
    handle = await start(client, task_queue, request)
    progress = await handle.result()
    handle = await start(
        client,
        task_queue,
        request_for("history-prune", [config("kept")]),
        owned=progress.owned,
    )
    await finish(handle)
    await save(client, handle, "pruned")

    # A deployment long enough to continue as new.
    options = TEST_OPTIONS.model_copy(update={"max_history_events": 40})
    request = request_for(
        "history-continue", [config(f"c{index}") for index in range(8)]
    )
    handle = await start(client, task_queue, request, options=options)
    await finish(handle)
    await save(client, handle, "continued")


async def main() -> None:
    binary = shutil.which(
        "temporal", path=str(Path(sys.executable).parent)
    ) or shutil.which("temporal")
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary,
        data_converter=pydantic_data_converter,
        search_attributes=[
            SearchAttributeKey.for_keyword(name)
            for name in (ATTRIBUTE_APPLICATION, ATTRIBUTE_NAMESPACE, ATTRIBUTE_PROJECT)
        ],
    )
    folder = Path(tempfile.mkdtemp())
    process, cluster = start_emulator(folder)
    try:
        cluster.control.configure(ready_delay=0.05, backoff_delay=0.05)
        task_queue = f"record-{uuid.uuid4().hex[:6]}"
        async with build_worker(
            environment.client,
            cluster.kube(),
            task_queue=task_queue,
            concurrency=32,
            grace=2,
        ):
            await record(environment.client, cluster, task_queue)
    finally:
        process.terminate()
        process.wait(timeout=20)
        await environment.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
