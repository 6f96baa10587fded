"""A worker killed with SIGKILL mid-deployment loses nothing and repeats no finished job."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

import oam
from activities import drift
from tests.conftest import (
    TEST_OPTIONS,
    Cluster,
    config,
    request_for,
    start_worker_process,
    unique_name,
    web,
)
from workflows.types import (
    WORKFLOW_NAME,
    DeployInput,
    DeploymentState,
    JobState,
    Progress,
    workflow_id,
)


async def wait_for_job_state(
    handle, job_id: str, state: JobState, timeout: float = 30
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        progress = await handle.query("progress", result_type=Progress)
        if any(job.id == job_id and job.state == state for job in progress.jobs):
            return
        assert asyncio.get_running_loop().time() < deadline, (
            f"{job_id} never reached {state}"
        )
        await asyncio.sleep(0.1)


async def test_worker_killed_during_a_wait_resumes_without_reapplying(
    temporal: WorkflowEnvironment,
    temporal_address: str,
    cluster: Cluster,
    tmp_path: Path,
) -> None:
    task_queue = f"crash-{uuid.uuid4().hex[:8]}"
    store = {
        "name": "db",
        "type": "store",
        "image": "mysql:8",
        "properties": {"ports": [{"port": 3306}]},
    }
    request = request_for(
        unique_name("crash"),
        [config("settings"), store, web("api")],
        [
            {"name": "config", "components": ["settings"]},
            {"name": "data", "mode": "DAG", "components": ["db", "api"]},
        ],
    )
    application = oam.validate_document(request).application
    plan = oam.build_plan(application)
    cluster.control.hold(kind="StatefulSet", name="db")

    first = start_worker_process(
        temporal_address, task_queue, cluster.kubeconfig, tmp_path / "worker-1.log"
    )
    handle = await temporal.client.start_workflow(
        WORKFLOW_NAME,
        DeployInput(application=application, options=TEST_OPTIONS),
        id=workflow_id(application.namespace, application.name),
        task_queue=task_queue,
        result_type=Progress,
    )
    await wait_for_job_state(handle, "StatefulSet/default/db", JobState.WAITING)
    await wait_for_job_state(handle, "Deployment/default/api", JobState.READY)

    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    second = start_worker_process(
        temporal_address, task_queue, cluster.kubeconfig, tmp_path / "worker-2.log"
    )
    try:
        cluster.control.release()
        progress = await asyncio.wait_for(handle.result(), timeout=90)
    finally:
        second.terminate()
        second.wait(timeout=30)

    assert progress.state == DeploymentState.SUCCEEDED
    for job in plan.jobs:
        writes = cluster.control.writes(kind=job.kind, name=job.name)
        assert len(writes) == 1, f"{job.describe()} was applied {len(writes)} times"
        live = cluster.live(job.kind, job.namespace, job.name)
        assert live is not None
        assert drift.first_difference(plan.manifests[job.id], live) is None
