"""Fault injection: random error rates, one-shot rules, throttling and dropped connections."""

from __future__ import annotations

import kubernetes.client
import pytest
import urllib3


def config_map(name: str):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"a": "1"},
    }


def test_fault_rate_matches_configuration(kube, control):
    control.inject_faults(rate=0.3, statuses=[500, 503], seed=7)

    codes = [kube.apply(config_map(f"c{index}"))[0] for index in range(200)]

    failures = [code for code in codes if code in (500, 503)]
    assert (
        30 <= len(failures) <= 90
    )  # 60 expected; bounds are about 4 standard deviations
    assert set(failures) == {500, 503}
    assert all(code in (200, 201, 500, 503) for code in codes)


def test_seeded_faults_repeat(kube, control):
    def run():
        control.reset()
        control.inject_faults(rate=0.5, seed=42)
        return [kube.apply(config_map(f"c{index}"))[0] for index in range(30)]

    assert run() == run()


def test_reads_are_spared_by_default(kube, control):
    control.inject_faults(rate=1.0)

    status, _, _ = kube.request("GET", kube.path("ConfigMap"))

    assert status == 200


def test_faults_reach_reads_when_asked(kube, control):
    control.inject_faults(rate=1.0, statuses=[503], reads=True)

    status, body, _ = kube.request("GET", kube.path("ConfigMap"))

    assert status == 503
    assert body["kind"] == "Status"


def test_one_shot_rule_fails_exactly_n_requests(kube, control):
    control.inject_faults(
        rules=[
            {
                "match": {"verb": "apply", "kind": "ConfigMap", "name": "target*"},
                "status": 422,
                "message": "custom rejection",
                "times": 2,
            }
        ]
    )

    other = kube.apply(config_map("unrelated"))
    first = kube.apply(config_map("target-1"))
    second = kube.apply(config_map("target-1"))
    third = kube.apply(config_map("target-1"))

    assert other[0] == 201
    assert (first[0], first[1]["message"]) == (422, "custom rejection")
    assert second[0] == 422
    assert third[0] == 201


def test_throttling_sends_retry_after(kube, control):
    control.inject_faults(too_many_requests_rate=1.0, retry_after=3)

    status, body, headers = kube.request(
        "PATCH",
        kube.path("ConfigMap", "c"),
        config_map("c"),
        {"fieldManager": "t"},
        "application/apply-patch+yaml",
    )

    assert status == 429
    assert headers["Retry-After"] == "3"
    assert body["reason"] == "TooManyRequests"


def test_dropped_connection_raises_in_client(api_client, control):
    control.inject_faults(drop_rate=1.0)
    core = kubernetes.client.CoreV1Api(api_client)

    with pytest.raises(urllib3.exceptions.HTTPError):
        core.create_namespaced_config_map("default", config_map("c"))


def test_faults_are_logged(kube, control):
    control.inject_faults(rules=[{"match": {"kind": "ConfigMap"}, "status": 500}])

    kube.apply(config_map("c"))

    faults = [entry for entry in control.log() if entry["event"] == "fault"]
    assert [(f["kind"], f["name"], f["code"]) for f in faults] == [
        ("ConfigMap", "c", 500)
    ]


def test_control_api_is_never_faulted(control):
    control.inject_faults(rate=1.0, drop_rate=0.0, reads=True)
    assert control.config()["readyDelay"] == 0.05


def test_clearing_faults_restores_service(kube, control):
    control.inject_faults(rate=1.0)
    control.clear_faults()
    assert kube.apply(config_map("c"))[0] == 201


def test_invalid_fault_configuration_is_rejected(control):
    with pytest.raises(Exception, match="rate"):
        control.inject_faults(rate=2.0)
