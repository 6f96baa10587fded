"""A Kubernetes API emulator (not a real cluster) for oamflow's tests and local demo.

It serves the Kubernetes API over HTTP, so that the official `kubernetes` client
and `kubectl` work against it, and emulates a one-node control plane that makes
workloads become ready after configurable delays. A control API under
`/_emulator/` steers readiness, image faults and API fault injection, and records
an event log for ordering assertions.

Start it in-process with `async with serve() as emulator: ...`, or as a process
with `python -m emulator --port 0 --url-file PATH`.
"""

from emulator.config import EmulatorConfig
from emulator.control import ControlClient, ControlError
from emulator.server import Emulator
from emulator.serving import serve

__all__ = ["ControlClient", "ControlError", "Emulator", "EmulatorConfig", "serve"]
