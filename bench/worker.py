"""`python -m bench.worker`: `worker.py` with the benchmarks' baseline workflows added.

It takes the same options as `worker.py`. The worker is the one `build_worker`
constructs, with the same activities, thread pool, sandbox and limits. Only the
baseline workflows of `bench.bare` and its `bench_hold` activity are added to
the registered types, so oamflow's workflow and its baselines run side by side
on one worker process and one task queue.
"""

from __future__ import annotations

from typing import Any

import worker
from bench.bare import BareChain, BareFanOut, bench_hold

_temporal_worker = worker.Worker


def _worker_with_baselines(client: Any, **config: Any) -> Any:
    config["workflows"] = [*config["workflows"], BareChain, BareFanOut]
    config["activities"] = [*config["activities"], bench_hold]
    return _temporal_worker(client, **config)


if __name__ == "__main__":
    worker.Worker = _worker_with_baselines  # type: ignore[assignment]
    worker.main()
