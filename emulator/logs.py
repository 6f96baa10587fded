"""Logging for the emulator: every message states that it comes from an emulator.

Real cluster logs and emulator logs can end up side by side in CI output, so the
adapter prefixes each message with `BANNER`.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

BANNER = "Kubernetes API emulator (not a real cluster)"


class EmulatorLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger adapter that prefixes every message with `BANNER`."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        return f"{BANNER}: {msg}", kwargs


def get_logger(name: str) -> EmulatorLogger:
    return EmulatorLogger(logging.getLogger(name), {})
