"""Concurrency caps, dependsOn, conditions, timeouts and approval steps, end to end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateFailedError

from tests.conftest import Harness, config, request_for, unique_name, web
from workflows.types import (
    ApprovalDecision,
    ApprovalOutcome,
    DeploymentState,
    JobState,
    Progress,
    StepState,
)


def max_in_flight(log: list[dict], kind: str) -> int:
    """The most objects of a kind applied but not yet ready at any moment of the log."""
    in_flight: set[str] = set()
    most = 0
    for entry in log:
        if entry["kind"] != kind:
            continue
        if entry["event"] == "write" and entry["verb"] == "apply":
            in_flight.add(entry["name"])
        elif entry["event"] == "ready":
            in_flight.discard(entry["name"])
        most = max(most, len(in_flight))
    return most


async def test_cap_of_two_keeps_six_dag_jobs_two_at_a_time(harness: Harness) -> None:
    harness.cluster.control.configure(ready_delay=0.3)
    names = [f"w{index}" for index in range(6)]
    components = [
        {"name": name, "type": "job", "image": "busybox:1.36"} for name in names
    ]
    request = request_for(
        unique_name("cap"),
        components,
        [{"name": "all", "mode": "DAG", "components": names, "maxConcurrency": 2}],
    )

    progress = await harness.deploy(request)

    assert progress.state == DeploymentState.SUCCEEDED
    assert max_in_flight(harness.cluster.control.log(), "Job") == 2


async def test_cap_holds_during_retry(harness: Harness, tmp_path: Path) -> None:
    control = harness.cluster.control
    control.configure(ready_delay=0.3)
    names = [f"w{index}" for index in range(6)]
    components = [
        {"name": name, "type": "job", "image": "busybox:1.36"} for name in names
    ]
    components[5]["image"] = "registry.example.com/broken:1"
    control.set_image_fault("registry.example.com/broken:*", "fail")
    request = request_for(
        unique_name("capretry"),
        components,
        [{"name": "all", "mode": "DAG", "components": names}],
        maxConcurrency=2,
    )
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    first = await harness.cli("deploy", str(path))
    assert first.returncode == 1

    # The fix changes every Job, so the retry applies all six again under the cap.
    for component in components:
        component["image"] = "busybox:1.37"
    path.write_text(json.dumps(request))
    before = control.log()[-1]["seq"]
    retried = await harness.cli("retry", request["name"], "--file", str(path))

    assert retried.returncode == 0, retried.stdout + retried.stderr
    log = control.log(since=before)
    assert (
        len(
            [
                entry
                for entry in log
                if entry["event"] == "write"
                and entry["kind"] == "Job"
                and entry["verb"] == "apply"
            ]
        )
        >= 6
    )
    assert max_in_flight(log, "Job") <= 2


async def test_cycle_is_rejected_naming_the_path(
    harness: Harness, tmp_path: Path
) -> None:
    request = request_for(
        "cycle",
        [config("a"), config("b")],
        [{"name": "a", "dependsOn": ["b"]}, {"name": "b", "dependsOn": ["a"]}],
    )
    path = tmp_path / "cycle.json"
    path.write_text(json.dumps(request))
    result = await harness.cli("plan", str(path))
    assert result.returncode == 2
    assert "dependency cycle: a -> b -> a" in result.stderr


async def test_failed_dependency_skips_dependents_and_independent_branch_runs(
    harness: Harness,
) -> None:
    control = harness.cluster.control
    control.set_image_fault("registry.example.com/broken:*", "fail")
    broken = {
        "name": "migrate",
        "type": "job",
        "image": "registry.example.com/broken:1",
    }
    request = request_for(
        unique_name("deps"),
        [broken, web("api"), config("docs"), config("notify")],
        [
            {"name": "migrate"},
            {"name": "api", "dependsOn": ["migrate"]},
            {"name": "docs", "dependsOn": []},
            {
                "name": "notify",
                "dependsOn": ["api"],
                "if": "failure() || steps.migrate.status == 'failed'",
            },
        ],
    )

    _, progress = await harness.deploy_failing(request)

    steps = {step.name: step for step in progress.steps}
    assert steps["migrate"].state == StepState.FAILED
    assert steps["api"].state == StepState.SKIPPED
    assert "migrate failed" in steps["api"].message
    assert steps["docs"].state == StepState.SUCCEEDED
    assert steps["notify"].state == StepState.SUCCEEDED
    assert harness.cluster.control.writes(kind="Deployment", name="api") == []
    assert {job.state for job in progress.jobs if job.step == "api"} == {
        JobState.SKIPPED
    }


async def test_condition_false_skips_the_step(harness: Harness) -> None:
    request = request_for(
        unique_name("cond"),
        [config("a"), config("on-failure")],
        [{"name": "a"}, {"name": "on-failure", "if": "failure()"}],
    )
    progress = await harness.deploy(request)
    steps = {step.name: step for step in progress.steps}
    assert steps["on-failure"].state == StepState.SKIPPED
    assert "condition 'failure()' is false" in steps["on-failure"].message
    assert harness.cluster.control.writes(kind="ConfigMap", name="on-failure") == []


async def test_step_timeout_fails_only_that_steps_job(harness: Harness) -> None:
    harness.cluster.control.hold(kind="Deployment", name="slow")
    request = request_for(
        unique_name("steptimeout"),
        [config("fast"), web("slow")],
        [
            {"name": "fast", "dependsOn": []},
            {"name": "slow", "dependsOn": [], "mode": "DAG", "timeout": "3s"},
        ],
    )

    _, progress = await harness.deploy_failing(request)

    jobs = {job.id: job for job in progress.jobs}
    assert jobs["ConfigMap/default/fast"].state == JobState.READY
    assert jobs["Service/default/slow"].state == JobState.READY
    slow = jobs["Deployment/default/slow"]
    assert slow.state == JobState.FAILED
    assert "was not ready within its step's timeout" in slow.message


def approval_request(name: str, **approval: object) -> dict:
    return request_for(
        name,
        [config("canary"), web("rollout")],
        [
            {"name": "canary"},
            {"name": "gate", "type": "approval", **approval},
            {"name": "rollout", "mode": "DAG"},
        ],
    )


async def wait_for_step(handle, name: str, state: StepState) -> Progress:
    for _ in range(300):
        progress = await handle.query("progress", result_type=Progress)
        if any(step.name == name and step.state == state for step in progress.steps):
            return progress
        await asyncio.sleep(0.1)
    raise AssertionError(f"step {name} never reached {state}")


async def test_approve_continues_the_deployment(harness: Harness) -> None:
    name = unique_name("approve")
    handle = await harness.start(approval_request(name))
    await wait_for_step(handle, "gate", StepState.AWAITING_APPROVAL)
    assert harness.cluster.control.writes(kind="Deployment") == []
    status = await harness.cli("status", name)
    assert "step gate awaits approval" in status.stdout

    result = await harness.cli("approve", name, "--reason", "canary looks good")

    assert result.returncode == 0, result.stderr
    assert "Step gate of" in result.stdout
    progress = await asyncio.wait_for(handle.result(), timeout=60)
    gate = next(step for step in progress.steps if step.name == "gate")
    assert gate.state == StepState.SUCCEEDED
    assert gate.approval is not None
    assert gate.approval.reason == "canary looks good"
    assert len(harness.cluster.control.writes(kind="Deployment", name="rollout")) == 1


async def test_reject_ends_the_deployment_failed(harness: Harness) -> None:
    name = unique_name("reject")
    handle = await harness.start(approval_request(name))
    await wait_for_step(handle, "gate", StepState.AWAITING_APPROVAL)

    result = await harness.cli(
        "approve", name, "--reject", "--reason", "error rate too high"
    )

    assert result.returncode == 0, result.stderr
    from tests.conftest import outcome_of_failure

    message, progress = await outcome_of_failure(handle)
    assert "rejected: error rate too high" in message
    assert harness.cluster.control.writes(kind="Deployment") == []
    rollout = next(step for step in progress.steps if step.name == "rollout")
    assert rollout.state == StepState.SKIPPED


async def test_invalid_approval_is_rejected_by_the_validator(harness: Harness) -> None:
    name = unique_name("noapprove")
    handle = await harness.start(approval_request(name))
    await wait_for_step(handle, "gate", StepState.AWAITING_APPROVAL)

    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(
            "approve", ApprovalDecision(step="rollout"), result_type=ApprovalOutcome
        )
    assert "step 'rollout' is not waiting for approval" in str(caught.value.cause)
    result = await harness.cli("approve", name, "--step", "nope")
    assert result.returncode == 2
    assert "no step named 'nope'" in result.stderr

    await handle.execute_update(
        "approve", ApprovalDecision(step="gate"), result_type=ApprovalOutcome
    )
    progress = await asyncio.wait_for(handle.result(), timeout=60)
    assert progress.state == DeploymentState.SUCCEEDED
    history = [event async for event in handle.fetch_history_events()]
    assert (
        sum(
            event.HasField("workflow_execution_update_accepted_event_attributes")
            for event in history
        )
        == 1
    )


async def test_approval_timeout_fails_the_step(harness: Harness) -> None:
    handle = await harness.start(
        approval_request(unique_name("approvaltimeout"), timeout="2s")
    )
    from tests.conftest import outcome_of_failure

    message, progress = await outcome_of_failure(handle)
    assert "approval timed out" in message
    gate = next(step for step in progress.steps if step.name == "gate")
    assert gate.state == StepState.FAILED


async def test_long_deployment_continues_as_new_and_keeps_its_progress(
    harness: Harness,
) -> None:
    from tests.conftest import TEST_OPTIONS

    options = TEST_OPTIONS.model_copy(update={"max_history_events": 40})
    request = request_for(
        unique_name("longrun"), [config(f"c{index}") for index in range(12)]
    )
    handle = await harness.start(request, options=options)

    progress = await asyncio.wait_for(handle.result(), timeout=120)

    assert progress.state == DeploymentState.SUCCEEDED
    assert [job.state for job in progress.jobs] == [JobState.READY] * 12
    assert all(job.started_at and job.finished_at for job in progress.jobs)
    first_run = harness.client.get_workflow_handle(
        handle.id, run_id=handle.result_run_id
    )
    events = (await first_run.fetch_history()).events
    assert events[-1].HasField(
        "workflow_execution_continued_as_new_event_attributes"
    ), "the deployment never continued as new"
    for job in progress.jobs:
        assert len(harness.cluster.control.writes(kind="ConfigMap", name=job.name)) == 1
