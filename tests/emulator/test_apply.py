"""Server-side apply, metadata bookkeeping and field ownership."""

from __future__ import annotations

import copy

import kubernetes.client


def test_apply_creates_then_updates(kube, deployment):
    status, created = kube.apply(deployment("web"))
    assert status == 201
    assert created["metadata"]["generation"] == 1
    assert created["metadata"]["uid"]
    assert created["metadata"]["creationTimestamp"]

    status, updated = kube.apply(deployment("web", replicas=2))
    assert status == 200
    assert updated["metadata"]["generation"] == 2
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]


def test_identical_apply_changes_nothing(kube, control, deployment, wait_for):
    manifest = deployment("web")
    kube.apply(manifest)
    control.wait_for_event("ready", "Deployment", "web")
    before = kube.get("Deployment", "web")
    since = control.log()[-1]["seq"]

    status, after = kube.apply(manifest)

    assert status == 200
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["metadata"]["managedFields"] == before["metadata"]["managedFields"]
    writes = control.writes(since, kind="Deployment")
    assert [entry["changed"] for entry in writes] == [False]


def test_metadata_change_keeps_generation(kube, deployment):
    kube.apply(deployment("web"))
    labelled = deployment("web")
    labelled["metadata"]["labels"] = {"tier": "frontend"}

    _, body = kube.apply(labelled)

    assert body["metadata"]["generation"] == 1
    assert body["metadata"]["labels"] == {"tier": "frontend"}


def test_resource_version_is_a_global_counter(kube):
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a"},
        "data": {"k": "1"},
    }
    _, first = kube.apply(config)
    _, second = kube.apply(dict(config, metadata={"name": "b"}))
    status, listing, _ = kube.request("GET", kube.path("ConfigMap"))

    assert int(second["metadata"]["resourceVersion"]) > int(
        first["metadata"]["resourceVersion"]
    )
    assert status == 200
    assert listing["kind"] == "ConfigMapList"
    assert listing["apiVersion"] == "v1"
    assert int(listing["metadata"]["resourceVersion"]) >= int(
        second["metadata"]["resourceVersion"]
    )


def test_observed_generation_follows_generation(kube, control, deployment, wait_for):
    kube.apply(deployment("web"))
    kube.apply(deployment("web", replicas=2))

    body = wait_for(
        lambda: (
            (d := kube.get("Deployment", "web"))["status"].get("observedGeneration")
            == 2
            and d
        )
    )

    assert body["metadata"]["generation"] == 2


def test_apply_requires_field_manager(kube, deployment):
    path = kube.path("Deployment", "web")
    status, body, _ = kube.request(
        "PATCH", path, deployment("web"), {}, "application/apply-patch+yaml"
    )
    assert status == 400
    assert body["kind"] == "Status"


def test_apply_accepts_yaml_body(kube):
    document = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  key: value\n"
    status, body, _ = kube.request(
        "PATCH",
        kube.path("ConfigMap", "from-yaml"),
        document,
        {"fieldManager": "yaml-user"},
        "application/apply-patch+yaml",
    )
    assert status == 201
    assert body["data"] == {"key": "value"}


def test_apply_conflict_names_manager_and_field(kube, deployment):
    kube.apply(deployment("web"), manager="oamflow")
    status, _, _ = kube.request(
        "PATCH",
        kube.path("Deployment", "web"),
        {"spec": {"replicas": 3}},
        {"fieldManager": "kubectl-edit"},
        "application/merge-patch+json",
    )
    assert status == 200

    status, body = kube.apply(deployment("web", replicas=1), manager="oamflow")

    assert status == 409
    assert body["reason"] == "Conflict"
    assert body["message"] == (
        'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas'
    )
    assert body["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "kubectl-edit" using apps/v1',
            "field": ".spec.replicas",
        }
    ]


def test_forced_apply_takes_ownership(kube, deployment):
    kube.apply(deployment("web"), manager="oamflow")
    kube.request(
        "PATCH",
        kube.path("Deployment", "web"),
        {"spec": {"replicas": 3}},
        {"fieldManager": "kubectl-edit"},
        "application/merge-patch+json",
    )

    status, body = kube.apply(
        deployment("web", replicas=1), manager="oamflow", force=True
    )

    assert status == 200
    assert body["spec"]["replicas"] == 1
    managers = {entry["manager"] for entry in body["metadata"]["managedFields"]}
    editor = [
        e for e in body["metadata"]["managedFields"] if e["manager"] == "kubectl-edit"
    ]
    assert "oamflow" in managers
    assert all("f:replicas" not in e["fieldsV1"].get("f:spec", {}) for e in editor)


def test_same_value_from_two_managers_is_shared(kube, deployment):
    kube.apply(deployment("web", replicas=2), manager="first")
    status, _ = kube.apply(deployment("web", replicas=2), manager="second")
    assert status == 200


def test_apply_removes_fields_the_manager_dropped(kube):
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"keep": "1", "drop": "2"},
    }
    kube.apply(config)
    smaller = copy.deepcopy(config)
    del smaller["data"]["drop"]

    _, body = kube.apply(smaller)

    assert body["data"] == {"keep": "1"}


def test_dropped_field_stays_when_another_manager_owns_it(kube):
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"keep": "1", "shared": "2"},
    }
    kube.apply(config, manager="first")
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings"},
            "data": {"shared": "2"},
        },
        manager="second",
    )
    smaller = copy.deepcopy(config)
    del smaller["data"]["shared"]

    _, body = kube.apply(smaller, manager="first")

    assert body["data"] == {"keep": "1", "shared": "2"}


def test_containers_merge_by_name(kube, deployment):
    manifest = deployment("web")
    manifest["spec"]["template"]["spec"]["containers"].append(
        {"name": "sidecar", "image": "proxy:1"}
    )
    kube.apply(manifest, manager="oamflow")
    sidecar_only = deployment("web")
    sidecar_only["spec"]["template"]["spec"]["containers"] = [
        {"name": "sidecar", "image": "proxy:2"}
    ]

    status, body = kube.apply(sidecar_only, manager="mesh", force=True)

    containers = {
        c["name"]: c["image"] for c in body["spec"]["template"]["spec"]["containers"]
    }
    assert status == 200
    assert containers == {"main": "registry.local/web:1", "sidecar": "proxy:2"}


def test_update_records_update_entry(kube):
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "plain"},
        "data": {"a": "1"},
    }
    status, created, _ = kube.request(
        "POST", kube.path("ConfigMap"), body, {"fieldManager": "creator"}
    )

    assert status == 201
    entry = created["metadata"]["managedFields"][0]
    assert entry["manager"] == "creator"
    assert entry["operation"] == "Update"
    assert entry["fieldsType"] == "FieldsV1"
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}}}


def test_manager_defaults_to_user_agent(kube):
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "agent"},
        "data": {"a": "1"},
    }
    _, created, _ = kube.request("POST", kube.path("ConfigMap"), body)
    assert created["metadata"]["managedFields"][0]["manager"] == "OpenAPI-Generator"


def test_put_with_stale_resource_version_conflicts(kube):
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": "1"},
    }
    _, created, _ = kube.request("POST", kube.path("ConfigMap"), body)
    kube.request("PUT", kube.path("ConfigMap", "c"), dict(created, data={"a": "2"}))

    status, conflict, _ = kube.request(
        "PUT", kube.path("ConfigMap", "c"), dict(created, data={"a": "3"})
    )

    assert status == 409
    assert "the object has been modified" in conflict["message"]


def test_dry_run_stores_nothing(kube, control):
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "dry"},
        "data": {"a": "1"},
    }

    status, body = kube.apply(config, dryRun="All")

    assert status == 201
    assert body["data"] == {"a": "1"}
    assert kube.get("ConfigMap", "dry") is None
    assert control.writes(kind="ConfigMap")[-1]["dryRun"] is True


def test_status_write_keeps_generation(kube, deployment):
    _, created = kube.apply(deployment("web"))
    path = kube.path("Deployment", "web") + "/status"

    status, body, _ = kube.request(
        "PATCH",
        path,
        {"status": {"replicas": 7}, "spec": {"replicas": 9}},
        content_type="application/merge-patch+json",
    )

    assert status == 200
    assert body["metadata"]["generation"] == created["metadata"]["generation"]
    assert body["spec"]["replicas"] == 1


def test_main_write_ignores_status(kube, deployment):
    manifest = deployment("web")
    manifest["status"] = {"replicas": 42}

    _, body = kube.apply(manifest)

    assert body.get("status", {}).get("replicas") != 42


def test_typed_client_reads_objects(api_client, kube, deployment):
    kube.apply(deployment("web"))
    apps = kubernetes.client.AppsV1Api(api_client)

    read = apps.read_namespaced_deployment("web", "default")

    assert read.metadata.name == "web"
    assert read.spec.replicas == 1


def test_scale_subresource_changes_replicas(kube, deployment):
    kube.apply(deployment("web"))
    path = kube.path("Deployment", "web") + "/scale"

    status, scale, _ = kube.request(
        "PATCH",
        path,
        {"spec": {"replicas": 3}},
        content_type="application/merge-patch+json",
    )

    assert status == 200
    assert scale["kind"] == "Scale"
    assert scale["spec"]["replicas"] == 3
    assert scale["status"]["selector"] == "app=web"
    assert kube.get("Deployment", "web")["metadata"]["generation"] == 2
