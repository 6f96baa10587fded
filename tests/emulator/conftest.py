"""Fixtures: one emulator process per test session, reset before every test.

The emulator runs as `python -m emulator` in a subprocess, exactly as other
processes use it, and tests talk to it with the official `kubernetes` client and
with `ControlClient`. Each test starts from the initial cluster state with short
delays, so readiness takes milliseconds; tests poll with generous deadlines
instead of asserting on durations.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest

from emulator import ControlClient

REPOSITORY = Path(__file__).resolve().parents[2]
READY_DELAY = 0.05
BACKOFF_DELAY = 0.05
DEADLINE = 20.0

# Resource paths of the kinds the tests use: (group/version prefix, plural, namespaced).
RESOURCES: dict[str, tuple[str, str, bool]] = {
    "ConfigMap": ("/api/v1", "configmaps", True),
    "Secret": ("/api/v1", "secrets", True),
    "Service": ("/api/v1", "services", True),
    "Pod": ("/api/v1", "pods", True),
    "Namespace": ("/api/v1", "namespaces", False),
    "PersistentVolumeClaim": ("/api/v1", "persistentvolumeclaims", True),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "StatefulSet": ("/apis/apps/v1", "statefulsets", True),
    "DaemonSet": ("/apis/apps/v1", "daemonsets", True),
    "ReplicaSet": ("/apis/apps/v1", "replicasets", True),
    "Job": ("/apis/batch/v1", "jobs", True),
    "CustomResourceDefinition": (
        "/apis/apiextensions.k8s.io/v1",
        "customresourcedefinitions",
        False,
    ),
    "StorageClass": ("/apis/storage.k8s.io/v1", "storageclasses", False),
}


@pytest.fixture(scope="session")
def emulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start `python -m emulator` on a free loopback port and return its URL."""
    folder = tmp_path_factory.mktemp("emulator")
    url_file = folder / "url"
    log_file = (folder / "emulator.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--url-file",
            str(url_file),
            "--kubeconfig",
            str(folder / "kubeconfig"),
        ],
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=log_file,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPOSITORY)),
    )
    try:
        deadline = time.monotonic() + 30
        while not url_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not start; see {log_file.name}")
            time.sleep(0.05)
        url = url_file.read_text().strip()
        assert process.stdout is not None
        banner = process.stdout.readline().strip()
        assert (
            banner == f"Kubernetes API emulator (not a real cluster) listening on {url}"
        )
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
        if process.stdout is not None:
            process.stdout.close()
        log_file.close()


@pytest.fixture
def control(emulator_url: str) -> ControlClient:
    """A control client for an emulator reset to its initial state with short delays."""
    client = ControlClient(emulator_url)
    client.reset()
    client.configure(ready_delay=READY_DELAY, backoff_delay=BACKOFF_DELAY)
    return client


@pytest.fixture
def api_client(
    emulator_url: str, control: ControlClient
) -> Iterator[kubernetes.client.ApiClient]:
    configuration = kubernetes.client.Configuration()
    configuration.host = emulator_url
    with kubernetes.client.ApiClient(configuration) as client:
        yield client


class Kube:
    """Raw Kubernetes API calls through the official client's `ApiClient`."""

    def __init__(self, client: kubernetes.client.ApiClient) -> None:
        self.client = client

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, Any, dict[str, str]]:
        """Send one request; return status, decoded JSON body and headers."""
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        _, url, headers, data, _ = self.client.param_serialize(
            method=method,
            resource_path=path,
            query_params=list((query or {}).items()),
            header_params=headers,
            body=body,
        )
        response = self.client.call_api(method, url, headers, data)
        response.read()
        text = response.data.decode() if response.data else ""
        return (
            response.status,
            json.loads(text) if text else None,
            dict(response.getheaders()),
        )

    @staticmethod
    def path(
        kind: str, name: str | None = None, namespace: str | None = "default"
    ) -> str:
        prefix, plural, namespaced = RESOURCES[kind]
        path = (
            f"{prefix}/namespaces/{namespace}/{plural}"
            if namespaced
            else f"{prefix}/{plural}"
        )
        return f"{path}/{name}" if name else path

    def apply(
        self,
        obj: dict[str, Any],
        manager: str = "test-suite",
        force: bool = False,
        **query: Any,
    ) -> tuple[int, Any]:
        meta = obj["metadata"]
        path = self.path(obj["kind"], meta["name"], meta.get("namespace", "default"))
        params: dict[str, Any] = {"fieldManager": manager, **query}
        if force:
            params["force"] = "true"
        status, body, _ = self.request(
            "PATCH", path, obj, params, "application/apply-patch+yaml"
        )
        return status, body

    def get(
        self, kind: str, name: str, namespace: str = "default"
    ) -> dict[str, Any] | None:
        status, body, _ = self.request("GET", self.path(kind, name, namespace))
        return body if status == 200 else None

    def delete(
        self, kind: str, name: str, namespace: str = "default", **options: Any
    ) -> tuple[int, Any]:
        status, body, _ = self.request(
            "DELETE", self.path(kind, name, namespace), options or None
        )
        return status, body


@pytest.fixture
def kube(api_client: kubernetes.client.ApiClient) -> Kube:
    return Kube(api_client)


def wait_for(
    condition: Callable[[], Any], timeout: float = DEADLINE, interval: float = 0.02
) -> Any:
    """Poll until `condition()` returns a truthy value and return it; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s: {condition}")
        time.sleep(interval)


@pytest.fixture(name="wait_for")
def wait_for_fixture() -> Callable[..., Any]:
    return wait_for


def deployment(
    name: str, image: str = "registry.local/web:1", replicas: int = 1, **spec: Any
) -> dict[str, Any]:
    """Build a minimal valid Deployment manifest."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
            **spec,
        },
    }


@pytest.fixture(name="deployment")
def deployment_fixture() -> Callable[..., dict[str, Any]]:
    return deployment
