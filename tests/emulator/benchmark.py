"""Throughput benchmark of the emulator with the official `kubernetes` client.

Run: `.venv/bin/python tests/emulator/benchmark.py [--requests N] [--objects N]`.

It starts `python -m emulator` on a loopback port and measures, with 1 and with
50 client threads (one `ApiClient` each), the requests per second of single
object GETs and of server-side applies of ConfigMaps. It then stores `--objects`
ConfigMaps and measures GETs again, and times 200 Deployments that each have a
2-second ready delay. The client threads run in the benchmark process, so on a
2-core machine client and server compete for the CPU; the numbers are a floor.
Pytest does not collect this file.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import kubernetes.client

REPOSITORY = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPOSITORY))

from emulator import ControlClient  # noqa: E402


def start_emulator(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    url_file = folder / "url"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "--port",
            "0",
            "--url-file",
            str(url_file),
            "--log-level",
            "warning",
        ],
        cwd=REPOSITORY,
        env=dict(os.environ, PYTHONPATH=str(REPOSITORY)),
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not url_file.exists():
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("the emulator did not start")
        time.sleep(0.05)
    return process, url_file.read_text().strip()


def client_for(url: str) -> kubernetes.client.CoreV1Api:
    configuration = kubernetes.client.Configuration()
    configuration.host = url
    return kubernetes.client.CoreV1Api(kubernetes.client.ApiClient(configuration))


def config_map(name: str, value: str = "1") -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"value": value},
    }


def measure(url: str, threads: int, total: int, action: str) -> float:
    """Run `total` requests spread over `threads` threads; return requests per second."""
    per_thread = total // threads
    clients = [client_for(url) for _ in range(threads)]

    def work(index: int) -> None:
        core = clients[index]
        for step in range(per_thread):
            if action == "get":
                core.read_namespaced_config_map("target", "default")
            else:
                name = f"apply-{index}-{step % 20}"
                core.patch_namespaced_config_map(
                    name,
                    "default",
                    config_map(name, str(step)),
                    field_manager="bench",
                    _content_type="application/apply-patch+yaml",
                )

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    return per_thread * threads / (time.perf_counter() - started)


def deployments_with_delay(
    url: str, control: ControlClient, count: int, delay: float
) -> float:
    control.set_delay("Deployment", "bench-*", delay)
    apps = kubernetes.client.AppsV1Api(client_for(url).api_client)
    started = time.perf_counter()
    for index in range(count):
        name = f"bench-{index}"
        body = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "containers": [{"name": "c", "image": "registry.local/x:1"}]
                    },
                },
            },
        }
        apps.patch_namespaced_deployment(
            name,
            "default",
            body,
            field_manager="bench",
            _content_type="application/apply-patch+yaml",
        )
    while True:
        ready = {
            e["name"]
            for e in control.log()
            if e["event"] == "ready" and e["kind"] == "Deployment"
        }
        if len(ready) >= count:
            return time.perf_counter() - started
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests",
        type=int,
        default=2000,
        help="requests per measurement (default 2000)",
    )
    parser.add_argument(
        "--objects",
        type=int,
        default=5000,
        help="ConfigMaps stored for the large-store run",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        process, url = start_emulator(Path(folder))
        try:
            control = ControlClient(url, timeout=30)
            client_for(url).create_namespaced_config_map(
                "default", config_map("target")
            )
            for threads in (1, 50):
                for action in ("get", "apply"):
                    rate = measure(url, threads, args.requests, action)
                    print(f"{action:5} threads={threads:2}: {rate:7.0f} requests/s")

            core = client_for(url)
            started = time.perf_counter()
            for index in range(args.objects):
                core.create_namespaced_config_map(
                    "default", config_map(f"bulk-{index}")
                )
            print(
                f"created {args.objects} ConfigMaps in {time.perf_counter() - started:.1f} s"
            )
            for threads in (1, 50):
                print(
                    f"get   threads={threads:2} with {args.objects} objects: "
                    f"{measure(url, threads, args.requests, 'get'):7.0f} requests/s"
                )
            started = time.perf_counter()
            listed = core.list_namespaced_config_map("default")
            print(
                f"list of {len(listed.items)} ConfigMaps: {time.perf_counter() - started:.2f} s"
            )

            control.reset()
            control.configure(ready_delay=0.05)
            seconds = deployments_with_delay(url, control, 200, 2.0)
            print(
                f"200 Deployments with a 2 s ready delay: all ready {seconds:.1f} s after the first apply"
            )
        finally:
            process.terminate()
            process.wait(timeout=15)


if __name__ == "__main__":
    main()
