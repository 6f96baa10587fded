"""The emulated control plane: workloads, volumes and CRDs become ready, or fail as configured."""

from __future__ import annotations

import time


def conditions(obj):
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def claim(name: str, storage_class: str | None = None):
    spec = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Gi"}},
    }
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": spec,
    }


def job(name: str, image: str = "registry.local/task:1", **spec):
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "task", "image": image}],
                }
            },
            **spec,
        },
    }


def pods_of(kube, prefix: str):
    _, listing, _ = kube.request("GET", kube.path("Pod"))
    return [
        pod for pod in listing["items"] if pod["metadata"]["name"].startswith(prefix)
    ]


def test_deployment_becomes_ready(kube, control, deployment, wait_for):
    kube.apply(deployment("web", replicas=2))

    entry = control.wait_for_event("ready", "Deployment", "web")
    body = kube.get("Deployment", "web")

    assert entry["namespace"] == "default"
    assert body["status"]["readyReplicas"] == 2
    assert body["status"]["availableReplicas"] == 2
    assert body["status"]["updatedReplicas"] == 2
    assert body["status"]["observedGeneration"] == 1
    assert conditions(body)["Available"]["status"] == "True"
    assert conditions(body)["Progressing"]["reason"] == "NewReplicaSetAvailable"


def test_deployment_pods_are_owned_and_named(kube, control, deployment):
    _, created = kube.apply(deployment("web", replicas=2))
    control.wait_for_event("ready", "Deployment", "web")

    pods = pods_of(kube, "web-")

    assert len(pods) == 2
    for pod in pods:
        owner = pod["metadata"]["ownerReferences"][0]
        assert owner["uid"] == created["metadata"]["uid"]
        assert pod["metadata"]["labels"]["app"] == "web"
        assert len(pod["metadata"]["name"].split("-")) == 3
        assert pod["status"]["phase"] == "Running"
        assert {c["type"] for c in pod["status"]["conditions"]} >= {
            "PodScheduled",
            "Initialized",
            "ContainersReady",
            "Ready",
        }


def test_zero_replicas_are_ready_at_once(kube, control, deployment):
    kube.apply(deployment("idle", replicas=0))
    assert control.wait_for_event("ready", "Deployment", "idle")


def test_ready_delay_zero_answers_with_ready_status(kube, control, deployment):
    control.configure(ready_delay=0)

    _, body = kube.apply(deployment("web"))

    assert body["status"]["readyReplicas"] == 1


def test_write_is_logged_before_ready(kube, control, deployment):
    kube.apply(deployment("web"))
    control.wait_for_event("ready", "Deployment", "web")

    events = [
        (e["event"], e["kind"]) for e in control.log() if e["kind"] == "Deployment"
    ]

    assert events.index(("write", "Deployment")) < events.index(("ready", "Deployment"))


def test_statefulset_creates_bound_claims(kube, control, wait_for):
    stateful = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "serviceName": "db",
            "replicas": 2,
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {
                    "containers": [{"name": "db", "image": "registry.local/db:1"}]
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
        },
    }
    kube.apply(stateful)

    control.wait_for_event("ready", "StatefulSet", "db")
    body = kube.get("StatefulSet", "db")

    assert body["status"]["readyReplicas"] == 2
    assert body["status"]["currentRevision"] == body["status"]["updateRevision"]
    assert sorted(p["metadata"]["name"] for p in pods_of(kube, "db-")) == [
        "db-0",
        "db-1",
    ]
    for ordinal in (0, 1):
        claim_body = kube.get("PersistentVolumeClaim", f"data-db-{ordinal}")
        assert claim_body["status"]["phase"] == "Bound"
        assert claim_body["spec"]["volumeName"]


def test_job_completes(kube, control):
    kube.apply(job("migrate"))

    control.wait_for_event("ready", "Job", "migrate")
    body = kube.get("Job", "migrate")

    assert body["status"]["succeeded"] == 1
    assert body["status"]["completionTime"]
    assert conditions(body)["Complete"]["status"] == "True"


def test_claim_binds_immediately(kube, control):
    kube.apply(claim("data"))

    control.wait_for_event("ready", "PersistentVolumeClaim", "data")
    body = kube.get("PersistentVolumeClaim", "data")

    assert body["status"]["phase"] == "Bound"
    assert body["status"]["capacity"]["storage"] == "1Gi"
    assert body["spec"]["storageClassName"] == "standard"


def test_claim_waits_for_first_consumer(kube, control, wait_for):
    kube.apply(claim("cache", "wait-for-consumer"))
    time.sleep(0.3)
    waiting = kube.get("PersistentVolumeClaim", "cache")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "user"},
        "spec": {
            "containers": [{"name": "c", "image": "registry.local/app:1"}],
            "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "cache"}}],
        },
    }

    kube.apply(pod)

    assert waiting["status"]["phase"] == "Pending"
    control.wait_for_event("ready", "PersistentVolumeClaim", "cache")
    control.wait_for_event("ready", "Pod", "user")


def test_claim_with_unknown_class_stays_pending(kube, wait_for):
    kube.apply(claim("lost", "no-such-class"))

    events = wait_for(
        lambda: [
            e
            for e in kube.request("GET", "/api/v1/namespaces/default/events")[1][
                "items"
            ]
            if e["involvedObject"]["name"] == "lost"
        ]
    )

    assert kube.get("PersistentVolumeClaim", "lost")["status"]["phase"] == "Pending"
    assert events[0]["reason"] == "ProvisioningFailed"
    assert "no-such-class" in events[0]["message"]


def test_crd_serves_custom_resources(kube, control, wait_for):
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "shortNames": ["wd"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                    "subresources": {"status": {}},
                }
            ],
        },
    }
    kube.apply(crd)
    control.wait_for_event("ready", "CustomResourceDefinition", "widgets.example.com")
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1"},
        "spec": {"size": 3},
    }
    path = "/apis/example.com/v1/namespaces/default/widgets"

    status, created, _ = kube.request(
        "PATCH",
        f"{path}/w1",
        widget,
        {"fieldManager": "t"},
        "application/apply-patch+yaml",
    )
    _, listing, _ = kube.request("GET", path)
    _, resources, _ = kube.request("GET", "/apis/example.com/v1")

    established = kube.get(
        "CustomResourceDefinition", "widgets.example.com", namespace=None
    )
    assert conditions(established)["Established"]["status"] == "True"
    assert status == 201
    assert created["spec"] == {"size": 3}
    assert [item["metadata"]["name"] for item in listing["items"]] == ["w1"]
    assert listing["kind"] == "WidgetList"
    assert resources["resources"][0]["kind"] == "Widget"


def test_hold_blocks_readiness_until_release(kube, control, deployment):
    hold = control.hold(kind="Deployment", namespace="default", name="web*")
    kube.apply(deployment("web-a"))
    kube.apply(deployment("other"))
    control.wait_for_event("ready", "Deployment", "other")
    held = kube.get("Deployment", "web-a")

    control.release(hold)

    assert (held.get("status") or {}).get("readyReplicas") is None
    assert not [
        e
        for e in control.log()
        if e["event"] == "ready"
        and e["name"] == "web-a"
        and e["seq"] < control.log()[-1]["seq"] - 1000
    ]
    assert control.wait_for_event("ready", "Deployment", "web-a")


def test_ready_event_follows_release(kube, control, deployment):
    hold = control.hold(kind="Deployment", name="web")
    kube.apply(deployment("web"))
    time.sleep(0.3)
    before_release = control.log()[-1]["seq"]

    control.release(hold)

    ready = control.wait_for_event("ready", "Deployment", "web")
    assert ready["seq"] > before_release


def test_per_object_delay_applies(kube, control, deployment):
    control.set_delay("Deployment", "slow*", 0.5)
    kube.apply(deployment("slow-1"))
    kube.apply(deployment("fast"))

    fast = control.wait_for_event("ready", "Deployment", "fast")
    slow = control.wait_for_event("ready", "Deployment", "slow-1")

    assert slow["seq"] > fast["seq"]


def test_image_pull_fault_and_recovery(kube, control, deployment, wait_for):
    control.set_image_fault("registry.local/broken:*", "pull")
    kube.apply(deployment("web", image="registry.local/broken:1"))

    def backoff_pod():
        for pod in pods_of(kube, "web-"):
            for status in pod["status"].get("containerStatuses") or []:
                waiting = status["state"].get("waiting") or {}
                if waiting.get("reason") == "ImagePullBackOff":
                    return waiting
        return None

    waiting = wait_for(backoff_pod)
    assert waiting["message"] == 'Back-off pulling image "registry.local/broken:1"'
    assert kube.get("Deployment", "web")["status"].get("readyReplicas") is None

    control.set_image_fault("registry.local/broken:*", None)

    assert control.wait_for_event("ready", "Deployment", "web")


def test_crash_fault_sets_crash_loop(kube, control, deployment, wait_for):
    control.set_image_fault("registry.local/crash:*", "crash")
    kube.apply(deployment("web", image="registry.local/crash:1"))

    def restarted():
        for pod in pods_of(kube, "web-"):
            for status in pod["status"].get("containerStatuses") or []:
                if status["restartCount"] >= 2 and "waiting" in status["state"]:
                    return status
        return None

    status = wait_for(restarted)
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert status["lastState"]["terminated"]["exitCode"] == 1


def test_crash_fault_fails_job(kube, control):
    control.set_image_fault("registry.local/bad-task:*", "crash")
    kube.apply(job("migrate", image="registry.local/bad-task:1", backoffLimit=2))

    control.wait_for_event("failed", "Job", "migrate")
    body = kube.get("Job", "migrate")

    assert conditions(body)["Failed"]["status"] == "True"
    assert conditions(body)["Failed"]["reason"] == "BackoffLimitExceeded"
    assert body["status"]["failed"] == 3


def test_gpu_pod_is_unschedulable(kube, deployment, wait_for):
    manifest = deployment("trainer")
    manifest["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "limits": {"nvidia.com/gpu": 1}
    }
    kube.apply(manifest)

    def scheduled_condition():
        for pod in pods_of(kube, "trainer-"):
            for condition in pod["status"].get("conditions") or []:
                if condition["type"] == "PodScheduled":
                    return condition
        return None

    condition = wait_for(scheduled_condition)
    assert condition["status"] == "False"
    assert condition["reason"] == "Unschedulable"
    assert (
        condition["message"]
        == "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
    )


def test_progress_deadline_exceeded(kube, control, deployment, wait_for):
    control.configure(progress_deadline_seconds=0.3)
    control.set_image_fault("registry.local/never:*", "pull")
    kube.apply(deployment("stuck", image="registry.local/never:1"))

    def progressing():
        condition = conditions(kube.get("Deployment", "stuck")).get("Progressing")
        return condition if condition and condition["status"] == "False" else None

    condition = wait_for(progressing)
    assert condition["reason"] == "ProgressDeadlineExceeded"


def test_rollout_replaces_pods(kube, control, deployment, wait_for):
    kube.apply(deployment("web", image="registry.local/web:1"))
    control.wait_for_event("ready", "Deployment", "web")
    since = control.log()[-1]["seq"]

    kube.apply(deployment("web", image="registry.local/web:2"))

    control.wait_for_event("ready", "Deployment", "web", since=since)
    images = wait_for(
        lambda: (
            (
                found := {
                    p["spec"]["containers"][0]["image"] for p in pods_of(kube, "web-")
                }
            )
            == {"registry.local/web:2"}
            and found
        )
    )
    assert images == {"registry.local/web:2"}


def test_daemonset_runs_one_pod(kube, control):
    daemon = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {
                    "containers": [{"name": "agent", "image": "registry.local/agent:1"}]
                },
            },
        },
    }
    kube.apply(daemon)

    control.wait_for_event("ready", "DaemonSet", "agent")
    status = kube.get("DaemonSet", "agent")["status"]

    assert status["desiredNumberScheduled"] == 1
    assert status["numberReady"] == 1
    assert status["numberAvailable"] == 1
