"""`starter.py deploy` as an operator runs it: exit codes, live lines, the final table."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Harness, request_for, unique_name, web


def write_request(tmp_path: Path, request: dict) -> str:
    path = tmp_path / f"{request['name']}.json"
    path.write_text(json.dumps(request))
    return str(path)


async def test_deploy_succeeds_with_exit_code_zero(
    harness: Harness, tmp_path: Path
) -> None:
    request = request_for(unique_name("cli-ok"), [web("api")])
    result = await harness.cli("deploy", write_request(tmp_path, request))
    assert result.returncode == 0, result.stderr
    assert "local Kubernetes API emulator" in result.stdout
    assert "(not a real cluster)" in result.stdout
    assert "Temporal UI: http://" in result.stdout
    assert "succeeded  Deployment default/api" in result.stdout
    assert f"Deployment of {request['name']} succeeded (2 succeeded)" in result.stdout


async def test_never_ready_workload_fails_within_its_timeout(
    harness: Harness, tmp_path: Path
) -> None:
    harness.cluster.control.hold(kind="Deployment", name="stuck")
    request = request_for(unique_name("cli-stuck"), [web("stuck", timeout="3s")])
    result = await harness.cli("deploy", write_request(tmp_path, request))
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "Deployment default/stuck was not ready within its timeout of 3s"
        in result.stdout
    )
    assert "OUTCOME" in result.stdout
    table = [
        line
        for line in result.stdout.splitlines()
        if line.startswith(("STEP", "stuck"))
    ]
    assert any(
        "Deployment default/stuck" in line and " failed " in line for line in table
    )
    assert any(
        "Service default/stuck" in line and "succeeded" in line for line in table
    )
    assert f"python starter.py retry {request['name']}" in result.stdout


async def test_second_deploy_while_one_runs_is_refused(
    harness: Harness, tmp_path: Path
) -> None:
    harness.cluster.control.hold(kind="Deployment", name="busy")
    request = request_for(unique_name("cli-busy"), [web("busy")])
    path = write_request(tmp_path, request)
    first = await harness.cli("deploy", path, "--detach")
    assert first.returncode == 0, first.stderr

    second = await harness.cli("deploy", path)
    assert second.returncode == 2
    assert "is already running" in second.stderr
    assert "Traceback" not in second.stderr

    cancelled = await harness.cli("cancel", request["name"])
    assert cancelled.returncode == 0, cancelled.stderr


async def test_invalid_request_exits_two_without_contacting_temporal(
    tmp_path: Path,
) -> None:
    from tests.conftest import run_cli

    path = tmp_path / "bad.yaml"
    path.write_text("name: Bad_Name\ncomponent: []\n")
    result = run_cli("127.0.0.1:1", "unused", "deploy", str(path))
    assert result.returncode == 2
    assert "name: invalid value 'Bad_Name'" in result.stderr
    assert "component: must have at least 1 item" in result.stderr
    assert "Traceback" not in result.stderr


async def test_unreachable_temporal_is_reported_without_a_traceback(
    tmp_path: Path,
) -> None:
    from tests.conftest import run_cli

    request = request_for(unique_name("cli-offline"), [web("api")])
    result = run_cli(
        "127.0.0.1:1", "unused", "deploy", write_request(tmp_path, request), timeout=60
    )
    assert result.returncode == 1
    assert "cannot connect to Temporal at 127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.stderr


async def test_status_of_unknown_application_exits_two(harness: Harness) -> None:
    result = await harness.cli("status", unique_name("never-deployed"))
    assert result.returncode == 2
    assert "no deployment of application" in result.stderr


async def test_status_reports_a_finished_deployment_as_json(
    harness: Harness, tmp_path: Path
) -> None:
    request = request_for(unique_name("cli-json"), [web("api")], project="shop")
    deployed = await harness.cli("deploy", write_request(tmp_path, request))
    assert deployed.returncode == 0, deployed.stderr
    result = await harness.cli("status", request["name"], "--output", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["state"] == "succeeded"
    assert data["project"] == "shop"
    assert [job["state"] for job in data["jobs"]] == ["ready", "ready"]
    assert all(job["startedAt"] and job["finishedAt"] for job in data["jobs"])


async def test_status_of_a_running_deployment_shows_what_each_wait_reports(
    harness: Harness, tmp_path: Path
) -> None:
    import asyncio

    harness.cluster.control.set_image_fault("registry.example.com/slow:*", "pull")
    request = request_for(
        unique_name("cli-running"),
        [web("api", image="registry.example.com/slow:1", timeout="5m")],
    )
    started = await harness.cli(
        "deploy",
        write_request(tmp_path, request),
        "--detach",
        env={"OAMFLOW_BACKOFF_GRACE": "300"},
    )
    assert started.returncode == 0, started.stderr

    for _ in range(100):
        result = await harness.cli("status", request["name"])
        if "ImagePullBackOff" in result.stdout or "ErrImagePull" in result.stdout:
            break
        await asyncio.sleep(0.3)
    assert result.returncode == 0
    assert "Deployment default/api" in result.stdout
    assert "waiting" in result.stdout
    assert "0 of 1" in result.stdout
    assert "pod api-" in result.stdout
    cancelled = await harness.cli("cancel", request["name"])
    assert cancelled.returncode == 0
