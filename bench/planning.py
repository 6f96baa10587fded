"""Plan and render throughput: `oam.load_application` and `oam.build_plan` for 10,000 components.

The request is `applications.mixed` with 10,000 components (26,050 objects)
as JSON text. Each phase is timed separately, best of 3: parsing the text
(`oam.parse_document`), validating the parsed data (`oam.validate_document`),
the two together as `oam.load_application` does them, and `oam.build_plan`
(which renders every manifest). The target applies to `load_application` plus
`build_plan`. No server is involved; it runs in the benchmark process.

To show how much of the time is Python's cyclic garbage collector (the request
and its manifests are millions of container objects, and each full collection
walks all of them), the same phases are also timed once with `gc` disabled.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from typing import Any

import oam
from bench import applications

TARGET_SECONDS = 2.0
REPEATS = 3


def _best(action: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def measure(text: str, repeats: int) -> dict[str, float]:
    """Best wall times in seconds of each phase for one request text."""
    data = oam.parse_document(text)
    application = oam.load_application(text).application
    times = {
        "parseSeconds": _best(lambda: oam.parse_document(text), repeats),
        "validateSeconds": _best(lambda: oam.validate_document(data), repeats),
        "loadSeconds": _best(lambda: oam.load_application(text), repeats),
        "planSeconds": _best(lambda: oam.build_plan(application), repeats),
    }
    # As the command line plans: the plan reuses the manifests validation rendered.
    times["totalSeconds"] = _best(lambda: oam.load_application(text).plan(), repeats)
    return times


def run_sync(quick: bool) -> dict[str, Any]:
    count = 1000 if quick else 10_000
    request = applications.mixed("plan-bench", count)
    text = json.dumps(request)
    application = oam.load_application(text).application
    jobs = len(oam.build_plan(application).jobs)

    measured = measure(text, REPEATS)
    gc.disable()
    try:
        without_gc = measure(text, 1)
    finally:
        gc.enable()
    return {
        "components": count,
        "objects": jobs,
        "requestBytes": len(text),
        "repeats": REPEATS,
        **measured,
        "withoutGc": without_gc,
        "target": {"maxTotalSeconds": TARGET_SECONDS},
        "passed": measured["totalSeconds"] <= TARGET_SECONDS,
    }


async def run(stack: object, quick: bool) -> dict[str, Any]:
    return run_sync(quick)
