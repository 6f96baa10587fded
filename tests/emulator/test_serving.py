"""Starting the emulator in-process, discovery, watches and the control API itself."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request

import kubernetes.client
import kubernetes.watch
import pytest

from emulator import ControlClient, ControlError, EmulatorConfig, serve


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


async def test_serve_runs_in_process():
    async with serve(config=EmulatorConfig(ready_delay=0)) as emulator:
        loop = asyncio.get_running_loop()
        version = await loop.run_in_executor(None, get_json, emulator.url + "/version")
        namespaces = emulator.store.list(("", "namespaces"))

    assert not emulator.url.endswith("/")
    assert "emulator" in version["gitVersion"]
    assert (version["major"], version["minor"]) == ("1", "31")
    assert [ns["metadata"]["name"] for ns in namespaces] == [
        "default",
        "kube-node-lease",
        "kube-public",
        "kube-system",
    ]


def test_core_discovery_lists_configmaps(emulator_url, control):
    resources = get_json(emulator_url + "/api/v1")

    by_name = {entry["name"]: entry for entry in resources["resources"]}
    assert resources["groupVersion"] == "v1"
    assert by_name["configmaps"]["shortNames"] == ["cm"]
    assert by_name["configmaps"]["namespaced"] is True
    assert by_name["namespaces"]["namespaced"] is False
    assert by_name["pods"]["kind"] == "Pod"


def test_group_discovery_lists_apps(emulator_url, control):
    groups = get_json(emulator_url + "/apis")
    names = {group["name"] for group in groups["groups"]}
    assert {
        "apps",
        "batch",
        "rbac.authorization.k8s.io",
        "networking.k8s.io",
        "storage.k8s.io",
        "apiextensions.k8s.io",
        "policy",
        "autoscaling",
    } <= names
    assert "metrics.k8s.io" not in names


def test_control_log_since_returns_newer_entries(kube, control):
    kube.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})
    middle = control.log()[-1]["seq"]
    kube.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}})

    newer = control.log(since=middle)

    assert [entry["name"] for entry in newer] == ["b"]
    assert set(newer[0]) >= {
        "seq",
        "time",
        "event",
        "verb",
        "method",
        "kind",
        "apiVersion",
        "namespace",
        "name",
        "code",
        "changed",
        "fieldManager",
        "dryRun",
    }


def test_reset_removes_objects_and_rules(kube, control):
    kube.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})
    control.hold(kind="Deployment")
    control.set_image_fault("x:*", "pull")

    control.reset()

    assert kube.get("ConfigMap", "a") is None
    assert control.log() == []
    assert control.objects(kind="ConfigMap") == []
    assert control.config()["readyDelay"] == 0.5


def test_objects_returns_stored_objects(kube, control):
    kube.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})
    objects = control.objects(kind="ConfigMap", namespace="default")
    assert [obj["metadata"]["name"] for obj in objects] == ["a"]


def test_control_rejects_bad_config(control):
    with pytest.raises(ControlError, match="readyDelay"):
        control.configure(ready_delay=-1)


def test_watch_streams_changes(api_client, kube, control):
    core = kubernetes.client.CoreV1Api(api_client)
    watch = kubernetes.watch.Watch()
    seen: list[tuple[str, str]] = []
    start = core.list_namespaced_config_map("default").metadata.resource_version

    def consume():
        stream = watch.stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=start,
            timeout_seconds=10,
        )
        for event in stream:
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 2:
                watch.stop()

    thread = threading.Thread(target=consume)
    thread.start()
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "watched"},
            "data": {"a": "1"},
        }
    )
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "watched"},
            "data": {"a": "2"},
        }
    )
    thread.join(timeout=15)

    assert seen == [("ADDED", "watched"), ("MODIFIED", "watched")]


def test_control_client_reports_unreachable_emulator():
    client = ControlClient("http://127.0.0.1:9", timeout=1)
    with pytest.raises(ControlError):
        client.log()


def test_control_lists_rules(control):
    hold = control.hold(kind="Deployment", name="web*")
    control.set_delay("Job", "slow", 2.0)
    control.set_image_fault("registry.local/x:*", "crash")

    holds = control.holds()
    delays = control.delays()
    images = control.image_faults()

    assert holds == [
        {"id": hold, "kind": "Deployment", "namespace": None, "name": "web*"}
    ]
    assert delays == [
        {"kind": "Job", "namespace": None, "name": "slow", "seconds": 2.0}
    ]
    assert images == {"registry.local/x:*": "crash"}
