"""`python -m bench.worker`: `worker.py` with the bare chain workflow registered too.

It takes the same options as `worker.py`. The worker is the one `build_worker`
constructs (same activities, thread pool, sandbox and limits); only the list of
workflow types gets `bench.bare.BareChain` appended, so both workflows of the step
transition benchmark run on one worker process and one task queue.
"""

from __future__ import annotations

from typing import Any

import worker
from bench.bare import BareChain

_temporal_worker = worker.Worker


def _worker_with_bare_chain(client: Any, **config: Any) -> Any:
    config["workflows"] = [*config["workflows"], BareChain]
    return _temporal_worker(client, **config)


if __name__ == "__main__":
    worker.Worker = _worker_with_bare_chain  # type: ignore[assignment]
    worker.main()
