"""A sampling profiler for the worker process, built on `sys._current_frames`.

`python -m bench.profiling OUTPUT WORKER-ARGS...` runs `worker.py` with a thread
that, every `OAMFLOW_BENCH_SAMPLE_SECONDS` (default 0.005), records the Python
stack of every other thread. When the worker exits, it writes OUTPUT as JSON
with the sample counts per thread group (the asyncio event loop, activity
threads, workflow threads, others). For each group it also lists the functions
where threads were found most often, as the innermost frame (self) and anywhere
on the stack (inclusive). Threads waiting for work (an idle pool thread, a loop in `select`)
are counted under `idle` and left out of the function tables.

It is a profiling aid for the benchmarks, not part of a measured run: sampling
holds the GIL for a moment every interval, which slows the worker a little.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

# Innermost frames of a thread that waits for work rather than doing it.
IDLE_LEAVES = {
    ("threading.py", "wait"),
    ("threading.py", "_wait_for_tstate_lock"),
    ("thread.py", "_worker"),
    ("selectors.py", "select"),
    ("queue.py", "get"),
}
TOP_FUNCTIONS = 40


def _group(name: str) -> str:
    if name == "MainThread":
        return "event-loop"
    if name.startswith("activity"):
        return "activity"
    if "workflow" in name.lower():
        return "workflow"
    return "other"


def _where(frame: Any) -> str:
    code = frame.f_code
    return f"{Path(code.co_filename).name}:{code.co_name}"


class StackSampler(threading.Thread):
    """Samples the stacks of all other threads until `stop` is called."""

    def __init__(self, interval: float) -> None:
        super().__init__(name="bench-sampler", daemon=True)
        self.interval = interval
        self._stopped = threading.Event()
        self.samples: collections.Counter[str] = collections.Counter()
        self.idle: collections.Counter[str] = collections.Counter()
        self.own: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self.inclusive: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self.started_at = time.monotonic()

    def run(self) -> None:
        me = threading.get_ident()
        while not self._stopped.wait(self.interval):
            names = {thread.ident: thread.name for thread in threading.enumerate()}
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                group = _group(names.get(ident, ""))
                code = frame.f_code
                if (Path(code.co_filename).name, code.co_name) in IDLE_LEAVES:
                    self.idle[group] += 1
                    continue
                self.samples[group] += 1
                self.own[group][_where(frame)] += 1
                seen = set()
                while frame is not None:
                    where = _where(frame)
                    if where not in seen:
                        seen.add(where)
                        self.inclusive[group][where] += 1
                    frame = frame.f_back

    def stop(self) -> None:
        self._stopped.set()

    def to_json(self) -> dict[str, Any]:
        return {
            "intervalSeconds": self.interval,
            "durationSeconds": time.monotonic() - self.started_at,
            "busySamples": dict(self.samples),
            "idleSamples": dict(self.idle),
            "self": {
                group: counter.most_common(TOP_FUNCTIONS)
                for group, counter in self.own.items()
            },
            "inclusive": {
                group: counter.most_common(TOP_FUNCTIONS)
                for group, counter in self.inclusive.items()
            },
        }


def main() -> None:
    output = Path(sys.argv[1])
    sys.argv = ["worker.py", *sys.argv[2:]]
    interval = float(os.environ.get("OAMFLOW_BENCH_SAMPLE_SECONDS", "0.005"))
    sampler = StackSampler(interval)
    sampler.start()

    import worker

    real_exit = os._exit

    def write_then_exit(code: int) -> None:
        sampler.stop()
        output.write_text(json.dumps(sampler.to_json(), indent=1))
        real_exit(code)

    worker.os._exit = write_then_exit  # type: ignore[attr-defined]
    worker.main()


if __name__ == "__main__":
    main()
