"""Validation, immutable fields, built-in defaulting and API error shapes."""

from __future__ import annotations

import base64

import kubernetes.client
import pytest


def statefulset(name: str, image: str = "registry.local/db:1", **spec):
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "serviceName": name,
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "db", "image": image}]},
            },
            **spec,
        },
    }


def test_missing_namespace_is_not_found(kube):
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "absent"},
    }

    status, body = kube.apply(config)

    assert status == 404
    assert body["reason"] == "NotFound"
    assert body["message"] == 'namespaces "absent" not found'
    assert body["details"] == {"name": "absent", "kind": "namespaces"}


def test_typed_client_raises_not_found_for_missing_namespace(api_client):
    core = kubernetes.client.CoreV1Api(api_client)
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}

    with pytest.raises(kubernetes.client.ApiException) as raised:
        core.create_namespaced_config_map("absent", body)

    assert raised.value.status == 404


def test_created_namespace_accepts_objects(kube):
    status, namespace = kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}
    )
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "team"},
    }

    assert status == 201
    assert namespace["status"]["phase"] == "Active"
    assert kube.apply(config)[0] == 201


def test_selector_mismatch_is_invalid(kube, deployment):
    manifest = deployment("web")
    manifest["spec"]["template"]["metadata"]["labels"] = {"app": "x"}

    status, body = kube.apply(manifest)

    assert status == 422
    assert body["reason"] == "Invalid"
    assert body["message"].startswith(
        'Deployment.apps "web" is invalid: spec.template.metadata.labels'
    )
    assert "`selector` does not match template `labels`" in body["message"]
    assert body["details"]["causes"][0]["field"] == "spec.template.metadata.labels"


def test_container_without_image_is_invalid(kube, deployment):
    manifest = deployment("web")
    del manifest["spec"]["template"]["spec"]["containers"][0]["image"]

    status, body = kube.apply(manifest)

    assert status == 422
    assert "spec.template.spec.containers[0].image: Required value" in body["message"]


def test_uppercase_name_is_invalid(kube):
    status, body = kube.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad"}}
    )
    assert status == 422
    assert "metadata.name" in body["message"]


def test_statefulset_immutable_field_is_forbidden(kube):
    kube.apply(statefulset("db"))

    status, body = kube.apply(statefulset("db", serviceName="other"))

    assert status == 422
    assert body["message"] == (
        'StatefulSet.apps "db" is invalid: spec: Forbidden: updates to statefulset spec for fields other '
        "than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' "
        "and 'minReadySeconds' are forbidden"
    )


def test_statefulset_replicas_may_change(kube):
    kube.apply(statefulset("db"))
    assert kube.apply(statefulset("db", replicas=2))[0] == 200


def test_deployment_selector_is_immutable(kube, deployment):
    kube.apply(deployment("web"))
    changed = deployment("web")
    changed["spec"]["selector"]["matchLabels"]["tier"] = "a"
    changed["spec"]["template"]["metadata"]["labels"]["tier"] = "a"

    status, body = kube.apply(changed)

    assert status == 422
    assert "spec.selector" in body["message"]
    assert "field is immutable" in body["message"]


def test_service_port_out_of_range_is_invalid(kube):
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 70000}]},
    }
    status, body = kube.apply(service)
    assert status == 422
    assert "spec.ports[0].port" in body["message"]


def test_service_gets_cluster_ip(kube):
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    _, body = kube.apply(service)
    assert body["spec"]["clusterIP"].startswith("10.96.")
    assert body["spec"]["clusterIPs"] == [body["spec"]["clusterIP"]]


def test_headless_service_keeps_none(kube):
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "db"},
        "spec": {"clusterIP": "None", "ports": [{"port": 5432}]},
    }
    _, body = kube.apply(service)
    assert body["spec"]["clusterIP"] == "None"


def test_service_cluster_ip_is_immutable(kube):
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80}]},
    }
    _, created = kube.apply(service)
    changed = dict(service, spec={"ports": [{"port": 80}], "clusterIP": "10.96.99.99"})

    status, body = kube.apply(changed, force=True)

    assert created["spec"]["clusterIP"] != "10.96.99.99"
    assert status == 422
    assert "spec.clusterIP" in body["message"]


def test_secret_string_data_is_folded_into_data(kube):
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": {"pw": "hunter2"},
    }
    _, body = kube.apply(secret)
    assert "stringData" not in body
    assert base64.b64decode(body["data"]["pw"]) == b"hunter2"


def test_secret_with_bad_base64_is_invalid(kube):
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"pw": "not base64!"},
    }
    status, _ = kube.apply(secret)
    assert status == 422


def test_immutable_configmap_rejects_changes(kube):
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": "1"},
        "immutable": True,
    }
    kube.apply(config)

    status, body = kube.apply(dict(config, data={"a": "2"}))

    assert status == 422
    assert "field is immutable when `immutable` is set" in body["message"]


def test_claim_spec_is_immutable_except_growth(kube):
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }
    kube.apply(claim)
    grown = {
        **claim,
        "spec": {**claim["spec"], "resources": {"requests": {"storage": "2Gi"}}},
    }
    other_mode = {**claim, "spec": {**claim["spec"], "accessModes": ["ReadWriteMany"]}}

    assert kube.apply(grown)[0] == 200
    status, body = kube.apply(other_mode)
    assert status == 422
    assert "spec is immutable after creation" in body["message"]


def test_unknown_resource_is_not_found(kube):
    status, body, _ = kube.request("GET", "/apis/apps/v1/namespaces/default/widgets")
    assert status == 404
    assert body["reason"] == "NotFound"


def test_job_without_restart_policy_is_invalid(kube):
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once"},
        "spec": {
            "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        },
    }
    status, body = kube.apply(job)
    assert status == 422
    assert "restartPolicy" in body["message"]


def test_create_of_existing_object_conflicts(kube):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    kube.request("POST", kube.path("ConfigMap"), body)
    status, conflict, _ = kube.request("POST", kube.path("ConfigMap"), body)
    assert status == 409
    assert conflict["reason"] == "AlreadyExists"


def test_protected_namespace_cannot_be_deleted(kube):
    status, body = kube.delete("Namespace", "default", namespace=None)
    assert status == 403
    assert body["reason"] == "Forbidden"
