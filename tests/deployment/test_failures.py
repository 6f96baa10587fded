"""Failing deployments: fast diagnosis, retry, cancel, cleanup, conflicts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from temporalio.client import WorkflowExecutionStatus

from tests.conftest import Harness, config, request_for, unique_name, web
from workflows.types import DeploymentState, JobState, Progress


def write_request(tmp_path: Path, request: dict) -> str:
    path = tmp_path / f"{request['name']}.json"
    path.write_text(json.dumps(request))
    return str(path)


def broken_web(name: str, **extra) -> dict:
    return web(name, image="registry.example.com/team/missing:1.0", **extra)


async def test_unpullable_image_fails_within_the_grace_period_naming_pod_and_reason(
    harness: Harness,
) -> None:
    harness.cluster.control.set_image_fault(
        "registry.example.com/team/missing:*", "pull"
    )
    request = request_for(unique_name("pull"), [broken_web("api", timeout="10m")])

    message, progress = await harness.deploy_failing(request)

    job = next(job for job in progress.jobs if job.kind == "Deployment")
    assert job.state == JobState.FAILED
    assert "is not becoming ready" in job.message, (
        "the wait ran into its timeout instead of failing fast"
    )
    assert "pod api-" in job.message
    assert "ImagePullBackOff" in job.message or "ErrImagePull" in job.message
    assert "check the image name and tag" in job.message
    assert "Deployment default/api" in message


async def test_retry_after_the_fix_does_not_rewrite_succeeded_jobs(
    harness: Harness, tmp_path: Path
) -> None:
    control = harness.cluster.control
    control.set_image_fault("registry.example.com/team/missing:*", "pull")
    request = request_for(unique_name("retry"), [config("settings"), broken_web("api")])
    first = await harness.cli("deploy", write_request(tmp_path, request))
    assert first.returncode == 1, first.stdout

    control.set_image_fault("registry.example.com/team/missing:*", None)
    before = control.log()[-1]["seq"]
    retried = await harness.cli("retry", request["name"])

    assert retried.returncode == 0, retried.stdout + retried.stderr
    writes = control.writes(since=before)
    written = {(entry["kind"], entry["name"]) for entry in writes}
    assert ("ConfigMap", "settings") not in written
    assert ("Service", "api") not in written
    assert written <= {("Deployment", "api")}
    assert "unchanged" in retried.stdout


async def test_retry_reapplies_a_succeeded_object_that_drifted(
    harness: Harness, tmp_path: Path
) -> None:
    control = harness.cluster.control
    control.set_image_fault("registry.example.com/team/missing:*", "pull")
    request = request_for(unique_name("drift"), [config("settings"), broken_web("api")])
    first = await harness.cli("deploy", write_request(tmp_path, request))
    assert first.returncode == 1

    kube = harness.cluster.kube()
    resource = kube.resolve("v1", "ConfigMap")
    await asyncio.to_thread(
        kube.request, "DELETE", resource.path("default", "settings")
    )
    control.set_image_fault("registry.example.com/team/missing:*", None)
    before = control.log()[-1]["seq"]
    retried = await harness.cli("retry", request["name"])

    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert len(control.writes(since=before, kind="ConfigMap", name="settings")) == 1
    assert harness.cluster.live("ConfigMap", "default", "settings") is not None


async def test_cancel_during_a_dag_tier_leaves_no_activity_running(
    harness: Harness, tmp_path: Path
) -> None:
    control = harness.cluster.control
    control.hold(kind="Deployment")
    request = request_for(
        unique_name("cancel"),
        [web("a"), web("b"), web("c")],
        [{"name": "all", "mode": "DAG", "components": ["a", "b", "c"]}],
    )
    started = await harness.cli("deploy", write_request(tmp_path, request), "--detach")
    assert started.returncode == 0, started.stderr
    handle = harness.client.get_workflow_handle(f"deploy-default-{request['name']}")
    for _ in range(200):
        progress = await handle.query("progress", result_type=Progress)
        if sum(job.state == JobState.WAITING for job in progress.jobs) == 3:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the three Deployments never waited together")

    result = await harness.cli("cancel", request["name"])

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Applied before the cancellation: 6 objects" in result.stdout
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.CANCELED
    if description.raw_description.pending_activities:
        history = await handle.fetch_history()
        for event in history.events:
            print(
                event.event_id, event.event_type, event.event_time.ToDatetime().time()
            )
    assert description.raw_description.pending_activities == []
    progress = await handle.query("progress", result_type=Progress)
    assert {job.state for job in progress.jobs if job.kind == "Deployment"} == {
        JobState.CANCELLED
    }
    assert {job.state for job in progress.jobs if job.kind == "Service"} == {
        JobState.READY
    }
    status = await harness.cli("status", request["name"])
    assert status.returncode == 1
    assert "cancelled" in status.stdout


async def test_cleanup_deletes_only_objects_the_run_created(harness: Harness) -> None:
    control = harness.cluster.control
    control.set_image_fault("registry.example.com/team/missing:*", "pull")
    kube = harness.cluster.kube()
    configmaps = kube.resolve("v1", "ConfigMap")
    for name in ("bystander", "shared"):
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name},
            "data": {"key": "value"},
        }
        await asyncio.to_thread(
            kube.request, "POST", configmaps.path("default"), body=body
        )
    request = request_for(
        unique_name("cleanup"),
        [config("shared"), config("fresh"), broken_web("api")],
        [{"name": "all", "mode": "DAG", "components": ["shared", "fresh", "api"]}],
        failurePolicy="cleanup",
    )

    _, progress = await harness.deploy_failing(request)

    assert progress.state == DeploymentState.FAILED
    deleted = {entry.object for entry in progress.cleanup if entry.deleted}
    assert deleted == {
        "ConfigMap default/fresh",
        "Service default/api",
        "Deployment default/api",
    }
    assert harness.cluster.live("ConfigMap", "default", "fresh") is None
    assert harness.cluster.live("Deployment", "default", "api") is None
    assert harness.cluster.live("ConfigMap", "default", "shared") is not None
    assert harness.cluster.live("ConfigMap", "default", "bystander") is not None
    assert control.writes(kind="ConfigMap", name="bystander", verb="apply") == []
    assert control.writes(kind="ConfigMap", name="bystander", verb="delete") == []


async def test_field_conflict_with_another_manager_names_that_manager(
    harness: Harness,
) -> None:
    kube = harness.cluster.kube()
    configmaps = kube.resolve("v1", "ConfigMap")
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"key": "theirs"},
    }
    await asyncio.to_thread(
        kube.request,
        "POST",
        configmaps.path("default"),
        body=body,
        query=[("fieldManager", "ops-team")],
    )
    request = request_for(unique_name("conflict"), [config("settings")])

    message, progress = await harness.deploy_failing(request)

    assert 'conflicts with field manager "ops-team"' in message
    assert ".data.key" in message
    live = harness.cluster.live("ConfigMap", "default", "settings")
    assert live is not None
    assert live["data"] == {"key": "theirs"}


async def test_list_filters_by_namespace_and_project(
    harness: Harness, tmp_path: Path
) -> None:
    project = unique_name("proj")
    request = request_for(unique_name("listed"), [config("settings")], project=project)
    deployed = await harness.cli("deploy", write_request(tmp_path, request))
    assert deployed.returncode == 0

    for _ in range(50):  # visibility is eventually consistent
        listed = await harness.cli("list", "--project", project, "--output", "json")
        entries = json.loads(listed.stdout)
        if entries:
            break
        await asyncio.sleep(0.2)
    assert [entry["application"] for entry in entries] == [request["name"]]
    assert entries[0]["state"] == "succeeded"
    other = await harness.cli(
        "list", "--project", project, "--namespace", "elsewhere", "--output", "json"
    )
    assert json.loads(other.stdout) == []


async def test_changed_job_is_recreated_because_its_template_is_immutable(
    harness: Harness,
) -> None:
    name = unique_name("rerun")
    job = {
        "name": "migrate",
        "type": "job",
        "image": "busybox:1.36",
        "properties": {"args": ["up", "1"]},
    }
    await harness.deploy(request_for(name, [job]))
    first = harness.cluster.live("Job", "default", "migrate")

    job["properties"]["args"] = ["up", "2"]
    progress = await harness.deploy(request_for(name, [job]))

    assert progress.state == DeploymentState.SUCCEEDED
    second = harness.cluster.live("Job", "default", "migrate")
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    assert second["spec"]["template"]["spec"]["containers"][0]["args"] == ["up", "2"]
    deletes = harness.cluster.control.writes(kind="Job", name="migrate", verb="delete")
    assert len(deletes) == 1


async def test_forbidden_statefulset_change_fails_naming_the_field_and_the_way_out(
    harness: Harness,
) -> None:
    name = unique_name("resize")

    def store(size: str) -> dict:
        storage = [
            {"name": "data", "type": "persistent", "mountPath": "/data", "size": size}
        ]
        return {
            "name": "db",
            "type": "store",
            "image": "postgres:16",
            "traits": {"storage": storage},
        }

    await harness.deploy(request_for(name, [store("1Gi")]))
    message, progress = await harness.deploy_failing(request_for(name, [store("2Gi")]))

    assert "StatefulSet default/db" in message
    assert "Forbidden" in message
    assert "--cascade=orphan" in message
    live = harness.cluster.live("StatefulSet", "default", "db")
    assert (
        live["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"][
            "storage"
        ]
        == "1Gi"
    )


async def test_redeploy_prunes_objects_the_request_dropped(
    harness: Harness, tmp_path: Path
) -> None:
    control = harness.cluster.control
    kube = harness.cluster.kube()
    configmaps = kube.resolve("v1", "ConfigMap")
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "adopted"},
        "data": {"key": "value"},
    }
    await asyncio.to_thread(kube.request, "POST", configmaps.path("default"), body=body)
    name = unique_name("prune")
    path = tmp_path / "request.json"
    path.write_text(
        json.dumps(
            request_for(name, [config("settings"), config("adopted"), web("old")])
        )
    )
    first = await harness.cli("deploy", str(path))
    assert first.returncode == 0, first.stdout + first.stderr

    path.write_text(json.dumps(request_for(name, [config("settings")])))
    second = await harness.cli("deploy", str(path))

    assert second.returncode == 0, second.stdout + second.stderr
    assert "pruned (no longer in the request):" in second.stdout
    assert harness.cluster.live("Deployment", "default", "old") is None
    assert harness.cluster.live("Service", "default", "old") is None
    assert harness.cluster.live("ConfigMap", "default", "settings") is not None
    assert harness.cluster.live("ConfigMap", "default", "adopted") is not None, (
        "an object oamflow did not create was pruned"
    )
    deletes = [entry["name"] for entry in control.writes(verb="delete")]
    assert sorted(deletes) == ["old", "old"]


async def test_failed_redeploy_prunes_nothing(harness: Harness, tmp_path: Path) -> None:
    harness.cluster.control.set_image_fault(
        "registry.example.com/team/missing:*", "pull"
    )
    name = unique_name("noprune")
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request_for(name, [config("settings"), web("old")])))
    assert (await harness.cli("deploy", str(path))).returncode == 0

    path.write_text(json.dumps(request_for(name, [broken_web("new")])))
    second = await harness.cli("deploy", str(path))

    assert second.returncode == 1
    assert harness.cluster.live("Deployment", "default", "old") is not None
    assert harness.cluster.live("ConfigMap", "default", "settings") is not None

    # Ownership survives the failed run: the next successful deployment prunes.
    harness.cluster.control.set_image_fault("registry.example.com/team/missing:*", None)
    third = await harness.cli("deploy", str(path))
    assert third.returncode == 0, third.stdout + third.stderr
    assert harness.cluster.live("Deployment", "default", "old") is None
    assert harness.cluster.live("ConfigMap", "default", "settings") is None
    assert harness.cluster.live("Deployment", "default", "new") is not None


async def test_another_applications_object_is_never_taken_over(
    harness: Harness,
) -> None:
    await harness.deploy(request_for(unique_name("owner"), [web("web")]))
    before = harness.cluster.live("Service", "default", "web")

    message, progress = await harness.deploy_failing(
        request_for(unique_name("intruder"), [web("web")])
    )

    assert "Service default/web belongs to oamflow application 'owner-" in message
    assert "rename the component, or deploy to another namespace" in message
    after = harness.cluster.live("Service", "default", "web")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
