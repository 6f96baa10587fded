"""Settings of one emulator instance, changeable at run time through the control API."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass
class EmulatorConfig:
    """Timing and memory settings of the emulated cluster.

    The first three fields are exposed by `/_emulator/config` under their
    camelCase names; the memory bounds are fixed when the emulator starts.
    """

    ready_delay: float = 0.5
    """Seconds from a workload change until its pods report ready; 0 makes it
    ready while the write request is handled."""

    progress_deadline_seconds: float | None = None
    """Overrides every Deployment's `spec.progressDeadlineSeconds` when set, so
    that tests can see `ProgressDeadlineExceeded` quickly."""

    backoff_delay: float = 0.5
    """Seconds between the steps of a failing container: image pull back-off,
    crash-loop restarts and failed Job pods."""

    log_size: int = 100_000
    """Maximum number of entries kept in the event log."""

    request_history: int = 1_000
    """Maximum number of parsed requests that kmock keeps for assertions."""

    watch_history: int = 10_000
    """Maximum number of changes kept for watches that resume from a version."""

    def to_json(self) -> dict[str, Any]:
        return {
            "readyDelay": self.ready_delay,
            "progressDeadlineSeconds": self.progress_deadline_seconds,
            "backoffDelay": self.backoff_delay,
        }

    def update_from_json(self, data: dict[str, Any]) -> None:
        """Apply the fields present in a control API request; raise ValueError on bad values."""
        if "readyDelay" in data:
            self.ready_delay = _non_negative("readyDelay", data["readyDelay"])
        if "backoffDelay" in data:
            self.backoff_delay = _non_negative("backoffDelay", data["backoffDelay"])
        if "progressDeadlineSeconds" in data:
            value = data["progressDeadlineSeconds"]
            if value is None:
                self.progress_deadline_seconds = None
            else:
                self.progress_deadline_seconds = _non_negative(
                    "progressDeadlineSeconds", value
                )
        unknown = set(data) - {"readyDelay", "backoffDelay", "progressDeadlineSeconds"}
        if unknown:
            raise ValueError(f"unknown config fields: {sorted(unknown)}")


def _non_negative(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)
