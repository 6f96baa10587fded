"""Deployments through the real dev server onto the emulator: order, tiers, overlap."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import oam
from activities import drift
from tests.conftest import (
    REPOSITORY,
    Cluster,
    Harness,
    config,
    request_for,
    unique_name,
    web,
)
from workflows.types import (
    ApprovalDecision,
    ApprovalOutcome,
    DeploymentState,
    JobState,
    Progress,
)

EXAMPLES = sorted((REPOSITORY / "examples").glob("*.*"))
READY_ON_APPLY = {
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "Ingress",
    "Service",
    "ClusterRole",
    "ClusterRoleBinding",
}


def load(path: Path, name: str) -> dict[str, Any]:
    data = oam.parse_document(path.read_bytes(), str(path))
    data["name"] = name
    return data


def first_write(log: list[dict], kind: str, name: str) -> dict:
    return next(
        entry
        for entry in log
        if entry["event"] == "write" and entry["kind"] == kind and entry["name"] == name
    )


def ready_point(log: list[dict], kind: str, name: str) -> dict:
    """When the object became ready: its controller's ready event, else its apply."""
    for entry in log:
        if (
            entry["event"] == "ready"
            and entry["kind"] == kind
            and entry["name"] == name
        ):
            return entry
    return first_write(log, kind, name)


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
async def test_every_example_deploys(harness: Harness, example: Path) -> None:
    request = load(example, unique_name(example.stem))
    plan = oam.build_plan(oam.validate_document(request).application)

    handle = await harness.start(request)
    result = asyncio.ensure_future(handle.result())
    while not result.done():
        # Examples with an approval gate need someone to approve it.
        current = await handle.query("progress", result_type=Progress)
        for step in current.awaiting_approval():
            await handle.execute_update(
                "approve", ApprovalDecision(step=step), result_type=ApprovalOutcome
            )
        await asyncio.wait([result], timeout=0.2)
    progress = result.result()

    assert progress.state == DeploymentState.SUCCEEDED
    assert [job.state for job in progress.jobs] == [JobState.READY] * len(plan.jobs)
    for job in plan.jobs:
        live = harness.cluster.live(job.kind, job.namespace, job.name)
        assert live is not None, f"{job.describe()} is missing"
        difference = drift.first_difference(plan.manifests[job.id], live)
        assert difference is None, (
            f"{job.describe()} differs from its manifest at {difference}"
        )


async def test_steps_run_in_order_and_tiers_high_normal_low(harness: Harness) -> None:
    component = web(
        "site",
        traits={
            "storage": [{"name": "data", "type": "persistent", "mountPath": "/data"}],
            "ingress": [{"host": "site.example.com"}],
        },
    )
    request = request_for(
        unique_name("order"),
        [config("settings"), component],
        [
            {"name": "first", "components": ["settings"]},
            {"name": "second", "mode": "DAG", "components": ["site"]},
        ],
    )
    await harness.deploy(request)

    log = harness.cluster.control.log()
    order = [
        first_write(log, "ConfigMap", "settings"),
        first_write(log, "PersistentVolumeClaim", "site-data"),
        first_write(log, "Deployment", "site"),
        first_write(log, "Ingress", "site"),
    ]
    assert [entry["seq"] for entry in order] == sorted(entry["seq"] for entry in order)
    claim_ready = ready_point(log, "PersistentVolumeClaim", "site-data")
    assert first_write(log, "Deployment", "site")["seq"] > claim_ready["seq"]
    deployment_ready = ready_point(log, "Deployment", "site")
    assert first_write(log, "Ingress", "site")["seq"] > deployment_ready["seq"]


async def test_step_by_step_jobs_never_overlap(harness: Harness) -> None:
    harness.cluster.control.configure(ready_delay=0.3)
    request = request_for(
        unique_name("serial"),
        [web("a"), web("b"), web("c")],
        [{"name": "all", "components": ["a", "b", "c"]}],
    )
    progress = await harness.deploy(request)

    log = harness.cluster.control.log()
    jobs = [(job.kind, job.name) for job in progress.jobs]
    for (kind, name), (next_kind, next_name) in zip(jobs, jobs[1:], strict=False):
        assert (
            first_write(log, next_kind, next_name)["seq"]
            > ready_point(log, kind, name)["seq"]
        ), f"{next_kind} {next_name} was applied before {kind} {name} was ready"
    intervals = sorted((job.started_at, job.finished_at) for job in progress.jobs)
    for (_, end), (start, _) in zip(intervals, intervals[1:], strict=False):
        assert start >= end


async def test_dag_tier_runs_jobs_concurrently(harness: Harness) -> None:
    harness.cluster.control.configure(ready_delay=0.5)
    request = request_for(
        unique_name("dag"),
        [web("a"), web("b"), web("c")],
        [{"name": "all", "mode": "DAG", "components": ["a", "b", "c"]}],
    )
    await harness.deploy(request)

    log = harness.cluster.control.log()
    applies = [first_write(log, "Deployment", name)["seq"] for name in ("a", "b", "c")]
    readies = [ready_point(log, "Deployment", name)["seq"] for name in ("a", "b", "c")]
    assert max(applies) < min(readies), (
        "a DAG tier applied a Deployment only after another became ready"
    )


async def test_next_tier_waits_for_a_held_workload(harness: Harness) -> None:
    control = harness.cluster.control
    component = web("front", traits={"ingress": [{"host": "front.example.com"}]})
    request = request_for(
        unique_name("hold"),
        [component],
        [{"name": "all", "mode": "DAG", "components": ["front"]}],
    )
    control.hold(kind="Deployment", name="front")

    handle = await harness.start(request)
    # The worker shares this event loop: wait in a thread, never block the loop.
    await asyncio.to_thread(
        control.wait_for_event, "write", "Deployment", "front", timeout=30
    )
    await asyncio.sleep(2.0)
    assert control.writes(kind="Ingress") == [], (
        "the Ingress was applied while its Deployment was held unready"
    )
    progress = await handle.query("progress", result_type=Progress)
    deployment = next(job for job in progress.jobs if job.kind == "Deployment")
    assert deployment.state == JobState.WAITING

    control.release()
    progress = await asyncio.wait_for(handle.result(), timeout=60)
    assert progress.state == DeploymentState.SUCCEEDED
    assert len(control.writes(kind="Ingress")) == 1


async def test_unchanged_redeploy_still_passes_the_readiness_gate(
    harness: Harness,
) -> None:
    name = unique_name("again")
    request = request_for(name, [web("api")])
    await harness.deploy(request)
    second = await harness.deploy(request)
    assert second.state == DeploymentState.SUCCEEDED
    assert all(job.state == JobState.READY for job in second.jobs)


async def test_missing_namespace_fails_before_anything_is_applied(
    harness: Harness,
) -> None:
    request = request_for(
        unique_name("nowhere"), [config("settings")], namespace="does-not-exist"
    )
    message, progress = await harness.deploy_failing(request)
    assert "namespace 'does-not-exist' does not exist" in message
    assert harness.cluster.control.writes() == []
    assert all(job.state == JobState.PENDING for job in progress.jobs)


def test_cluster_fixture_resets_between_tests(cluster: Cluster) -> None:
    assert cluster.control.writes() == []
