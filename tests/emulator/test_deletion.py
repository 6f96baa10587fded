"""Deletion: propagation policies, finalizers, namespaces and response bodies."""

from __future__ import annotations


def owned_pods(kube, owner_uid: str):
    _, listing, _ = kube.request("GET", kube.path("Pod"))
    return [
        pod
        for pod in listing["items"]
        if any(
            ref["uid"] == owner_uid
            for ref in pod["metadata"].get("ownerReferences") or []
        )
    ]


def pods_named(kube, prefix: str):
    _, listing, _ = kube.request("GET", kube.path("Pod"))
    return [
        pod for pod in listing["items"] if pod["metadata"]["name"].startswith(prefix)
    ]


def test_background_deletion_removes_pods(kube, control, deployment, wait_for):
    _, created = kube.apply(deployment("web", replicas=2))
    control.wait_for_event("ready", "Deployment", "web")

    status, body = kube.delete("Deployment", "web", propagationPolicy="Background")

    assert status == 200
    assert body["kind"] == "Status"
    assert body["status"] == "Success"
    assert body["details"]["name"] == "web"
    wait_for(lambda: not owned_pods(kube, created["metadata"]["uid"]))
    assert kube.get("Deployment", "web") is None


def test_orphan_deletion_keeps_pods(kube, control, deployment):
    kube.apply(deployment("web", replicas=2))
    control.wait_for_event("ready", "Deployment", "web")

    status, _ = kube.delete("Deployment", "web", propagationPolicy="Orphan")

    pods = pods_named(kube, "web-")
    assert status == 200
    assert len(pods) == 2
    assert all(not pod["metadata"].get("ownerReferences") for pod in pods)


def test_deleted_objects_are_logged(kube, control, deployment):
    kube.apply(deployment("web"))
    control.wait_for_event("ready", "Deployment", "web")

    kube.delete("Deployment", "web")

    assert control.wait_for_event("deleted", "Deployment", "web")
    delete_writes = control.writes(kind="Deployment", verb="delete")
    assert [entry["code"] for entry in delete_writes] == [200]


def test_service_deletion_returns_the_object(kube):
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80}]},
    }
    kube.apply(service)

    status, body = kube.delete("Service", "web")

    assert status == 200
    assert body["kind"] == "Service"


def test_finalizer_postpones_deletion(kube):
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "guarded", "finalizers": ["example.com/keep"]},
    }
    kube.apply(config)

    _, marked = kube.delete("ConfigMap", "guarded")
    still_there = kube.get("ConfigMap", "guarded")
    kube.request(
        "PATCH",
        kube.path("ConfigMap", "guarded"),
        {"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )

    assert marked["metadata"]["deletionTimestamp"]
    assert still_there is not None
    assert kube.get("ConfigMap", "guarded") is None


def test_namespace_deletion_removes_contents(kube):
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "team"},
        }
    )

    status, body = kube.delete("Namespace", "team", namespace=None)

    assert status == 200
    assert body["status"]["phase"] == "Terminating"
    assert kube.get("ConfigMap", "c", namespace="team") is None
    assert kube.get("Namespace", "team", namespace=None) is None


def test_missing_object_deletion_is_not_found(kube):
    status, body = kube.delete("ConfigMap", "absent")
    assert status == 404
    assert body["message"] == 'configmaps "absent" not found'
