"""`python -m bench [--only NAME] [--quick]`: run the benchmarks and record the results.

Every benchmark except `planning` gets a fresh local stack (Temporal dev server,
emulator, worker processes), stopped when the benchmark ends, fails or is
interrupted. The table goes to standard output and the raw numbers, with the
machine facts, to `bench/results/latest.json` (or `--output`). The exit status is
1 when a benchmark raised an exception, and 0 otherwise, even when targets
are missed.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import json
import signal
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench import fanout, machine, planning, scale, transition
from bench.stack import LocalStack

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"

Runner = Callable[[Any, bool], Awaitable[dict[str, Any]]]
# In the order they run: planning first, while no server is using the CPU.
BENCHMARKS: dict[str, tuple[Runner, bool]] = {
    "planning": (planning.run, False),
    "transition": (transition.run, True),
    "fanout": (fanout.run, True),
    "scale": (scale.run, True),
}


def _stop_leftover_children() -> None:
    """Last resort at exit: terminate child processes a failed cleanup left running."""
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            child.terminate()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"received signal {signum}")


async def run_one(name: str, quick: bool) -> dict[str, Any]:
    runner, needs_stack = BENCHMARKS[name]
    started = time.perf_counter()
    if needs_stack:
        async with LocalStack() as stack:
            result = await runner(stack, quick)
    else:
        result = await runner(None, quick)
    result["benchmarkSeconds"] = time.perf_counter() - started
    return result


Row = tuple[str, str, str, str]


def _mebibytes(value: float) -> str:
    return f"{value / 2**20:.1f} MiB"


def _verdict(result: dict[str, Any]) -> str:
    if "error" in result:
        return "error"
    return "pass" if result.get("passed") else "miss"


def _below(value: float, limit: float) -> str:
    return "pass" if value < limit else "miss"


def _planning_rows(result: dict[str, Any]) -> list[Row]:
    return [
        (
            f"planning: load + plan {result['components']:,} components",
            f"{result['totalSeconds']:.2f} s",
            f"<= {result['target']['maxTotalSeconds']:.0f} s",
            _verdict(result),
        ),
        ("  parse", f"{result['parseSeconds']:.2f} s", "", ""),
        ("  validate", f"{result['validateSeconds']:.2f} s", "", ""),
        ("  load (parse + validate)", f"{result['loadSeconds']:.2f} s", "", ""),
        ("  build_plan", f"{result['planSeconds']:.2f} s", "", ""),
    ]


def _transition_rows(result: dict[str, Any]) -> list[Row]:
    oamflow, bare = result["medians"]["oamflow"], result["medians"]["bare"]
    ratios = result["ratios"]
    limit = result["target"]["maxRatio"]
    return [
        (
            f"transition: total, {result['jobs']} jobs, oamflow/bare",
            f"{oamflow['wallSeconds']:.2f} s / {bare['wallSeconds']:.2f} s"
            f" = {ratios['wall']:.2f}x",
            f"<= {limit}x",
            "pass" if ratios["wall"] <= limit else "miss",
        ),
        (
            "transition: median transition, oamflow/bare",
            f"{oamflow['transitionSeconds'] * 1000:.1f} ms"
            f" / {bare['transitionSeconds'] * 1000:.1f} ms"
            f" = {ratios['transition']:.2f}x",
            f"<= {limit}x",
            "pass" if ratios["transition"] <= limit else "miss",
        ),
        (
            "  emulator apply-to-apply gap",
            f"{oamflow['emulatorApplyGapSeconds'] * 1000:.1f} ms"
            f" / {bare['emulatorApplyGapSeconds'] * 1000:.1f} ms"
            f" = {ratios['emulatorApplyGap']:.2f}x",
            "",
            "",
        ),
    ]


def _fanout_rows(result: dict[str, Any]) -> list[Row]:
    medians = result["medians"]
    return [
        (
            f"fanout: makespan / 2 s, {result['deployments']} Deployments",
            f"{medians['oamflow']['makespanSeconds']:.2f} s = {result['ratio']:.2f}x",
            f"<= {result['target']['maxRatio']}x",
            _verdict(result),
        ),
        (
            "  bare workflow, oamflow's activities",
            f"{medians['bare']['ratio']:.2f}x",
            "",
            "",
        ),
        (
            "  bare workflow, sleeping activities",
            f"{medians['hold']['ratio']:.2f}x",
            "",
            "",
        ),
    ]


def _scale_rows(result: dict[str, Any]) -> list[Row]:
    history = result["history"]
    limits = history["limits"]
    rss = result["workerRss"]
    return [
        (
            f"scale: {result['components']:,} components, {result['jobs']:,} jobs",
            f"{result['state']} in {result['wallSeconds']:.0f} s",
            "succeeds",
            "pass" if result["state"] == "succeeded" else "miss",
        ),
        (
            "  history events, total / max per run",
            f"{history['totalEvents']:,} in {history['runs']} runs"
            f" / {history['maxEventsPerRun']:,}",
            f"< {limits['eventsPerRun']:,} per run",
            _below(history["maxEventsPerRun"], limits["eventsPerRun"]),
        ),
        (
            "  history size, max per run",
            _mebibytes(history["maxHistoryBytesPerRun"]),
            f"< {_mebibytes(limits['historyBytesPerRun'])}",
            _below(history["maxHistoryBytesPerRun"], limits["historyBytesPerRun"]),
        ),
        (
            "  largest payload",
            f"{history['largestPayloadBytes']:,} B ({history['largestPayloadEvent']})",
            f"< {limits['payloadBytes']:,} B",
            _below(history["largestPayloadBytes"], limits["payloadBytes"]),
        ),
        ("  workflow input", f"{history['workflowInputBytes']:,} B", "", ""),
        (
            "  worker peak RSS",
            _mebibytes(rss["peakBytes"]),
            f"< {_mebibytes(rss['limitBytes'])}",
            _below(rss["peakBytes"], rss["limitBytes"]),
        ),
        (
            "  build_plan for this request",
            f"{result['planSeconds'] * 1000:.0f} ms",
            "",
            "",
        ),
    ]


ROWS = {
    "planning": _planning_rows,
    "transition": _transition_rows,
    "fanout": _fanout_rows,
    "scale": _scale_rows,
}


def table_rows(results: dict[str, dict[str, Any]]) -> list[Row]:
    """(benchmark and measure, value, target, verdict) for the printed table."""
    rows: list[Row] = []
    for name, result in results.items():
        if "error" in result:
            rows.append((name, result["error"].splitlines()[-1][:60], "", "error"))
        else:
            rows += ROWS[name](result)
    return rows


def print_table(rows: list[Row]) -> None:
    headers = ("benchmark", "result", "target", "")
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(4)]
    for row in [headers, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        print("  ".join(cells).rstrip())


async def run_all(names: list[str], quick: bool) -> dict[str, dict[str, Any]]:
    facts = machine.facts()
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        print(f"running {name}{' (quick)' if quick else ''} ...", flush=True)
        try:
            result = await run_one(name, quick)
        except Exception as error:  # record it and go on with the next benchmark
            traceback.print_exc()
            result = {"error": f"{type(error).__name__}: {error}"}
        result["machine"] = facts
        results[name] = result
        print(f"{name}: {_verdict(result)}", flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Run oamflow's benchmarks."
    )
    parser.add_argument(
        "--only", choices=list(BENCHMARKS), help="run only this benchmark"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes and one repeat: a smoke run of under a minute",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=RESULTS,
        help=f"where to write the raw results as JSON (default {RESULTS})",
    )
    arguments = parser.parse_args()
    names = [arguments.only] if arguments.only else list(BENCHMARKS)

    atexit.register(_stop_leftover_children)
    signal.signal(signal.SIGTERM, _interrupt)
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    results = asyncio.run(run_all(names, arguments.quick))

    report = {
        "command": " ".join(["python -m bench", *sys.argv[1:]]),
        "quick": arguments.quick,
        "startedAt": started_at.isoformat(),
        "durationSeconds": time.perf_counter() - started,
        "machine": machine.facts(),
        "benchmarks": results,
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print()
    print_table(table_rows(results))
    print(f"\nraw results: {arguments.output}")
    return 1 if any("error" in result for result in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
