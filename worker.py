"""The oamflow worker: runs deployment workflows and their Kubernetes activities.

    python worker.py                  # KUBECONFIG, ~/.kube/config or in-cluster config
    python worker.py --emulator       # start a local Kubernetes API emulator instead

Temporal connection settings come from Temporal's standard client configuration
(`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_CONFIG_FILE`, ...). SIGTERM and
SIGINT stop polling for new tasks, give running activities a grace period, then
exit. Run several workers on the same task queue to scale out.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import logging
import os
import signal
import sys
from datetime import timedelta

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import PollerBehaviorAutoscaling, Worker
from temporalio.worker.workflow_sandbox import (
    SandboxedWorkflowRunner,
    SandboxRestrictions,
)

from activities import KubeClient, KubernetesActivities, activity_functions
from workflows.deployment import DeployApplication
from workflows.types import (
    ATTRIBUTE_APPLICATION,
    ATTRIBUTE_NAMESPACE,
    ATTRIBUTE_PROJECT,
    TASK_QUEUE,
)

log = logging.getLogger("oamflow.worker")
DEFAULT_CONCURRENCY = 256


def sandbox_runner() -> SandboxedWorkflowRunner:
    """Build the workflow sandbox, with oamflow's pure modules and pydantic passed through."""
    restrictions = SandboxRestrictions.default.with_passthrough_modules(
        "oam", "workflows", "pydantic", "pydantic_core", "yaml"
    )
    return SandboxedWorkflowRunner(restrictions=restrictions)


def build_worker(
    client: Client,
    kube: KubeClient,
    *,
    task_queue: str = TASK_QUEUE,
    concurrency: int = DEFAULT_CONCURRENCY,
    grace: float = 10.0,
) -> Worker:
    """Build a worker for the deployment workflow and the Kubernetes activities."""
    activities = KubernetesActivities(kube)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[DeployApplication],
        activities=activity_functions(activities),
        activity_executor=concurrent.futures.ThreadPoolExecutor(
            max_workers=concurrency, thread_name_prefix="activity"
        ),
        max_concurrent_activities=concurrency,
        # A DAG tier schedules hundreds of activities at once; more pollers pick
        # them up sooner, and the server's feedback scales them back when idle.
        activity_task_poller_behavior=PollerBehaviorAutoscaling(
            minimum=2, maximum=32, initial=8
        ),
        workflow_runner=sandbox_runner(),
        graceful_shutdown_timeout=timedelta(seconds=grace),
    )


async def register_search_attributes(client: Client) -> None:
    """Make deployments searchable by application, namespace and project (idempotent)."""
    wanted = {
        name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        for name in (ATTRIBUTE_APPLICATION, ATTRIBUTE_NAMESPACE, ATTRIBUTE_PROJECT)
    }
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                search_attributes=wanted, namespace=client.namespace
            )
        )
    except RPCError as error:
        if error.status == RPCStatusCode.ALREADY_EXISTS:
            return
        log.warning(
            "Cannot register search attributes %s (%s); register them with"
            " `temporal operator search-attribute create` so `starter.py list` can filter",
            ", ".join(wanted),
            error.message,
        )


async def run(arguments: argparse.Namespace) -> int:
    from clients.temporal import connect, connect_settings

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    async with contextlib.AsyncExitStack() as stack:
        kubeconfig = arguments.kubeconfig
        if arguments.emulator:
            from emulator import serve
            from emulator.serving import write_kubeconfig

            emulated = await stack.enter_async_context(
                serve(port=arguments.emulator_port)
            )
            kubeconfig = os.path.join(".oamflow", "emulator.kubeconfig")
            os.makedirs(".oamflow", exist_ok=True)
            write_kubeconfig(kubeconfig, emulated.url)
            print(
                f"Kubernetes API emulator (not a real cluster) listening on {emulated.url}",
                flush=True,
            )
        kube = KubeClient.from_environment(
            kubeconfig, max_connections=arguments.concurrency
        )

        settings = connect_settings()
        try:
            client = await connect()
        except RuntimeError as error:
            print(
                f"error: cannot connect to Temporal at {settings['target_host']}: {error}",
                file=sys.stderr,
            )
            return 1
        await register_search_attributes(client)
        worker = build_worker(
            client,
            kube,
            task_queue=arguments.task_queue,
            concurrency=arguments.concurrency,
            grace=arguments.grace,
        )
        print(
            f"oamflow worker polling task queue {arguments.task_queue!r} on {settings['target_host']}"
            f" (namespace {settings['namespace']}), Kubernetes API at {kube.host}",
            flush=True,
        )
        async with worker:
            await stop.wait()
            print("oamflow worker stopping: finishing running tasks", flush=True)
    print("oamflow worker stopped", flush=True)
    return 0


class _ExpectedFailureFilter(logging.Filter):
    """Log activities that fail on purpose (an ApplicationError) without a traceback.

    The SDK logs every failed activity with its stack. For a job that failed because
    an image cannot be pulled, the message alone is the useful part.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ApplicationError):
            record.msg = f"{record.msg}: {error.message}"
            record.exc_info = None
            record.exc_text = None
        return True


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="worker.py", description="Run an oamflow worker."
    )
    parser.add_argument(
        "--kubeconfig",
        default=None,
        help="kubeconfig file (default: KUBECONFIG, ~/.kube/config or in-cluster)",
    )
    parser.add_argument(
        "--emulator",
        action="store_true",
        help="start a local Kubernetes API emulator and deploy there",
    )
    parser.add_argument(
        "--emulator-port",
        type=int,
        default=0,
        help="port of the emulator (default: any free port)",
    )
    parser.add_argument(
        "--task-queue",
        default=os.environ.get("OAMFLOW_TASK_QUEUE", TASK_QUEUE),
        help="Temporal task queue (default oamflow)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="activities run at once (default OAMFLOW_WORKER_CONCURRENCY, else 256)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=10.0,
        help="seconds running activities get to finish at shutdown (default 10)",
    )
    arguments = parser.parse_args()
    if arguments.concurrency is None:
        text = os.environ.get("OAMFLOW_WORKER_CONCURRENCY", str(DEFAULT_CONCURRENCY))
        if not text.isdigit() or int(text) < 1:
            parser.error(
                f"OAMFLOW_WORKER_CONCURRENCY={text!r} is not a positive whole number"
            )
        arguments.concurrency = int(text)
    if arguments.concurrency < 1 or arguments.grace < 0:
        parser.error("--concurrency must be at least 1 and --grace not negative")
    logging.getLogger("temporalio.activity").addFilter(_ExpectedFailureFilter())
    logging.basicConfig(
        level=os.environ.get("OAMFLOW_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )

    try:
        code = asyncio.run(run(arguments))
    except Exception as error:  # report, never a traceback, unless asked for
        if os.environ.get("OAMFLOW_DEBUG"):
            raise
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: the Temporal client's native runtime can abort it.
    os._exit(code)


if __name__ == "__main__":
    main()
