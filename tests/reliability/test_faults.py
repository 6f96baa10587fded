"""Deployments under faults: killed workers, a restarted server, a flaky API server."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

import oam
from activities import drift
from tests.conftest import (
    TEST_OPTIONS,
    Cluster,
    Harness,
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
    Progress,
    workflow_id,
)

FLAKY_RETRY = {"attempts": 12, "initialInterval": "50ms", "maxInterval": "1s"}


def create_namespace(cluster: Cluster, name: str) -> None:
    kube = cluster.kube()
    namespaces = kube.resolve("v1", "Namespace")
    kube.request(
        "POST",
        namespaces.path(None),
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
    )


def chaos_request(namespace: str) -> dict:
    store = {
        "name": "db",
        "type": "store",
        "image": "postgres:16",
        "properties": {"ports": [{"port": 5432}]},
    }
    job = {"name": "migrate", "type": "job", "image": "busybox:1.36"}
    return request_for(
        unique_name("chaos"),
        [config("settings"), store, job, web("api"), web("admin")],
        [
            {"name": "config", "components": ["settings"]},
            {"name": "data", "mode": "DAG", "components": ["db", "migrate"]},
            {"name": "apps", "components": ["api", "admin"]},
        ],
        namespace=namespace,
    )


def assert_converged(cluster: Cluster, plan: oam.Plan, progress: Progress) -> None:
    """Every object matches its manifest and none was written after its job was ready."""
    finished = {job.id: job.finished_at for job in progress.jobs}
    for job in plan.jobs:
        live = cluster.live(job.kind, job.namespace, job.name)
        assert live is not None, f"{job.describe()} is missing"
        assert drift.first_difference(plan.manifests[job.id], live) is None, (
            f"{job.describe()} differs"
        )
        writes = cluster.control.writes(
            kind=job.kind, name=job.name, namespace=job.namespace
        )
        late = [
            entry for entry in writes if entry["time"] > finished[job.id].timestamp()
        ]
        assert late == [], f"{job.describe()} was applied again after it was ready"


async def test_random_worker_kills_across_ten_deployments_lose_nothing(
    temporal: WorkflowEnvironment,
    temporal_address: str,
    cluster: Cluster,
    tmp_path: Path,
) -> None:
    rng = random.Random(1204)
    cluster.control.configure(ready_delay=0.3)
    task_queue = f"chaos-{uuid.uuid4().hex[:8]}"
    deployments = []
    for index in range(10):
        namespace = f"chaos-{index}"
        await asyncio.to_thread(create_namespace, cluster, namespace)
        application = oam.validate_document(chaos_request(namespace)).application
        deployments.append(application)

    worker = start_worker_process(
        temporal_address, task_queue, cluster.kubeconfig, tmp_path / "worker-0.log"
    )
    handles = [
        await temporal.client.start_workflow(
            WORKFLOW_NAME,
            DeployInput(application=application, options=TEST_OPTIONS),
            id=workflow_id(application.namespace, application.name),
            task_queue=task_queue,
            result_type=Progress,
        )
        for application in deployments
    ]
    results = asyncio.gather(*(handle.result() for handle in handles))
    kills = 0
    try:
        while kills < 10:
            await asyncio.sleep(rng.uniform(0.3, 2.5))
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            kills += 1
            worker = start_worker_process(
                temporal_address,
                task_queue,
                cluster.kubeconfig,
                tmp_path / f"worker-{kills}.log",
            )
        outcomes = await asyncio.wait_for(results, timeout=240)
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    assert kills == 10
    repeated = 0
    for application, progress in zip(deployments, outcomes, strict=True):
        assert progress.state == DeploymentState.SUCCEEDED
        plan = oam.build_plan(application)
        assert_converged(cluster, plan, progress)
        for job in plan.jobs:
            repeated += (
                len(
                    cluster.control.writes(
                        kind=job.kind, name=job.name, namespace=job.namespace
                    )
                )
                > 1
            )
    # Shown with `pytest -s`: objects applied twice because a kill hit their apply.
    print(
        f"10 kills, {len(deployments)} deployments, {repeated} in-flight applies repeated"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_dev_server(database: Path, port: int, log: Path) -> subprocess.Popen:
    binary = shutil.which(
        "temporal", path=str(Path(sys.executable).parent)
    ) or shutil.which("temporal")
    command = [
        str(binary), "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
        "--db-filename", str(database), "--log-level", "error",
    ]  # fmt: skip
    handle = log.open("ab")
    process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
    handle.close()
    return process


async def connect_when_up(address: str, timeout: float = 60) -> Client:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await Client.connect(address, data_converter=pydantic_data_converter)
        except RuntimeError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_deployment_survives_a_temporal_server_restart(
    cluster: Cluster, tmp_path: Path
) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    database = tmp_path / "temporal.db"
    server = start_dev_server(database, port, tmp_path / "server.log")
    worker = None
    try:
        client = await connect_when_up(address)
        task_queue = f"restart-{uuid.uuid4().hex[:8]}"
        worker = start_worker_process(
            address, task_queue, cluster.kubeconfig, tmp_path / "worker.log"
        )
        request = request_for(unique_name("restart"), [config("settings"), web("api")])
        application = oam.validate_document(request).application
        cluster.control.hold(kind="Deployment", name="api")
        handle = await client.start_workflow(
            WORKFLOW_NAME,
            DeployInput(application=application, options=TEST_OPTIONS),
            id=workflow_id(application.namespace, application.name),
            task_queue=task_queue,
            result_type=Progress,
        )
        await asyncio.to_thread(
            cluster.control.wait_for_event, "write", "Deployment", "api", timeout=60
        )

        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        server = start_dev_server(database, port, tmp_path / "server.log")
        cluster.control.release()
        client = await connect_when_up(address)
        progress = await asyncio.wait_for(
            client.get_workflow_handle(handle.id).result(), timeout=120
        )
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        server.terminate()
        server.wait(timeout=30)

    progress = (
        Progress.model_validate(progress) if isinstance(progress, dict) else progress
    )
    assert progress.state == DeploymentState.SUCCEEDED
    assert_converged(cluster, oam.build_plan(application), progress)


async def test_flaky_api_server_is_retried_and_every_retry_logged(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="temporalio.activity")
    harness.cluster.control.inject_faults(
        rate=0.2,
        statuses=[500, 503],
        drop_rate=0.05,
        too_many_requests_rate=0.05,
        retry_after=1,
        seed=42,
    )
    components = [config(f"c{index}") for index in range(6)] + [
        web(f"w{index}") for index in range(4)
    ]
    request = request_for(unique_name("flaky"), components, retry=FLAKY_RETRY)

    progress = await harness.deploy(request)

    assert progress.state == DeploymentState.SUCCEEDED
    faults = [
        entry for entry in harness.cluster.control.log() if entry["event"] == "fault"
    ]
    assert len(faults) >= 3, "the fault injection did not fire"
    reasons = {entry.get("reason") for entry in faults}
    assert {"status", "drop", "throttle"} <= reasons
    retries = [
        record.getMessage()
        for record in caplog.records
        if "retrying in" in record.getMessage()
    ]
    assert len(retries) >= len(faults)
    assert all("attempt " in line for line in retries)
    assert any("HTTP 429" in line for line in retries)
    assert any("connection error" in line for line in retries)
    assert all(
        line.startswith(("apply ", "read ", "discover ", "list ")) for line in retries
    )
    plan = oam.build_plan(oam.validate_document(request).application)
    harness.cluster.control.clear_faults()
    for job in plan.jobs:
        assert harness.cluster.live(job.kind, job.namespace, job.name) is not None


async def test_unprocessable_entity_fails_at_once_with_the_servers_message(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="temporalio.activity")
    message = 'ConfigMap "settings" is invalid: data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters'
    harness.cluster.control.inject_faults(
        rules=[
            {
                "match": {"verb": "apply", "kind": "ConfigMap", "name": "settings"},
                "status": 422,
                "message": message,
                "times": 1,
            }
        ]
    )
    request = request_for(
        unique_name("invalid"), [config("settings")], retry=FLAKY_RETRY
    )

    failure, progress = await harness.deploy_failing(request)

    assert message in failure
    assert progress.jobs[0].state.value == "failed"
    log = harness.cluster.control.log()
    attempts = [
        entry
        for entry in log
        if entry["kind"] == "ConfigMap" and entry["event"] in ("write", "fault")
    ]
    assert len(attempts) == 1, "the rejected apply was sent again"
    assert not [
        record for record in caplog.records if "retrying in" in record.getMessage()
    ]


def test_command_exit_codes_survive_the_runtime_abort_at_exit(
    temporal_address: str,
) -> None:
    # The Temporal client's native runtime can abort the interpreter at exit (exit
    # code 134) once in a few runs; every command must still exit with its own code.
    from tests.conftest import run_cli

    codes = [
        run_cli(temporal_address, "unused", "list", "--limit", "1").returncode
        for _ in range(25)
    ]
    assert codes == [0] * 25
    unknown = [
        run_cli(temporal_address, "unused", "status", "no-such-app").returncode
        for _ in range(10)
    ]
    assert unknown == [2] * 10


def test_worker_exits_zero_on_sigterm(
    temporal_address: str, cluster: Cluster, tmp_path: Path
) -> None:
    codes = []
    for attempt in range(5):
        process = start_worker_process(
            temporal_address,
            f"term-{uuid.uuid4().hex[:6]}",
            cluster.kubeconfig,
            tmp_path / f"w{attempt}.log",
        )
        process.send_signal(signal.SIGTERM)
        codes.append(process.wait(timeout=60))
    assert codes == [0] * 5
    assert "oamflow worker stopped" in (tmp_path / "w0.log").read_text()


if os.environ.get("OAMFLOW_SKIP_SLOW") == "1":  # pragma: no cover - local convenience
    pytestmark = pytest.mark.skip(reason="OAMFLOW_SKIP_SLOW=1")


async def test_lost_connection_leaves_the_deployment_running_and_says_how_to_resume(
    cluster: Cluster, tmp_path: Path
) -> None:
    from tests.conftest import REPOSITORY, TEST_ENVIRONMENT

    port = free_port()
    address = f"127.0.0.1:{port}"
    database = tmp_path / "temporal.db"
    server = start_dev_server(database, port, tmp_path / "server.log")
    worker = None
    try:
        await connect_when_up(address)
        task_queue = f"lost-{uuid.uuid4().hex[:8]}"
        worker = start_worker_process(
            address, task_queue, cluster.kubeconfig, tmp_path / "worker.log"
        )
        request = request_for(unique_name("lost"), [web("api")])
        path = tmp_path / "request.json"
        path.write_text(__import__("json").dumps(request))
        cluster.control.hold(kind="Deployment", name="api")
        environment = {
            **os.environ,
            **TEST_ENVIRONMENT,
            "TEMPORAL_ADDRESS": address,
            "OAMFLOW_TASK_QUEUE": task_queue,
        }
        deploy = subprocess.Popen(
            [sys.executable, "starter.py", "deploy", str(path)],
            cwd=REPOSITORY, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        await asyncio.to_thread(
            cluster.control.wait_for_event, "write", "Deployment", "api", timeout=60
        )

        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        stdout, stderr = await asyncio.to_thread(deploy.communicate, timeout=120)
        assert deploy.returncode == 1, stdout + stderr
        assert "lost the connection to Temporal" in stderr
        assert f"python starter.py status {request['name']} --follow" in stderr
        assert "Traceback" not in stderr

        server = start_dev_server(database, port, tmp_path / "server.log")
        await connect_when_up(address)
        cluster.control.release()
        resumed = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "starter.py", "status", request["name"], "--follow"],
            cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        server.terminate()
        server.wait(timeout=30)

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    # It may have finished before `status` ran; either way it reports success.
    finished = f"Deployment of {request['name']} succeeded"
    reported = f"Deployment deploy-default-{request['name']}: succeeded"
    assert finished in resumed.stdout or reported in resumed.stdout
