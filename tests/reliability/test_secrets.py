"""Secret values never reach Temporal's history or the logs in plaintext."""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid

import pytest
from aiohttp.test_utils import TestClient, TestServer
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

import oam
from cli.codecserver import build_app
from clients.codec import new_key
from clients.temporal import data_converter
from tests.conftest import TEST_OPTIONS, Cluster, request_for, unique_name
from worker import build_worker
from workflows.types import WORKFLOW_NAME, DeployInput, Progress, workflow_id


def secret_request(value: str) -> dict:
    component = {
        "name": "credentials",
        "type": "secret",
        "properties": {"secret": {"password": value}},
    }
    return request_for(unique_name("secret"), [component])


async def deploy_with(client: Client, cluster: Cluster, request: dict) -> str:
    """Deploy through a worker using `client`'s data converter; return the workflow ID."""
    task_queue = f"secret-{uuid.uuid4().hex[:8]}"
    application = oam.validate_document(request).application
    identifier = workflow_id(application.namespace, application.name)
    async with build_worker(
        client, cluster.kube(), task_queue=task_queue, concurrency=8, grace=2
    ):
        handle = await client.start_workflow(
            WORKFLOW_NAME,
            DeployInput(application=application, options=TEST_OPTIONS),
            id=identifier,
            task_queue=task_queue,
            result_type=Progress,
        )
        await asyncio.wait_for(handle.result(), timeout=60)
        await handle.query("progress", result_type=Progress)
    return identifier


async def stored_history(temporal: WorkflowEnvironment, identifier: str) -> bytes:
    """The history as the server stores it, fetched without any codec."""
    raw = temporal.client.get_workflow_handle(identifier)
    history = await raw.fetch_history()
    return history.to_json().encode() + b"".join(
        event.SerializeToString() for event in history.events
    )


def forms_of(value: str) -> list[bytes]:
    encoded = base64.b64encode(value.encode()).decode()
    return [value.encode(), encoded.encode(), base64.b64encode(encoded.encode())]


@pytest.fixture
def codec_client(
    temporal: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> tuple[Client, object]:
    """A client with the data converter the worker and CLI use, with a fresh key."""
    monkeypatch.setenv("OAMFLOW_CODEC_KEY", new_key())
    monkeypatch.delenv("OAMFLOW_CODEC_KEY_FILE", raising=False)
    converter = data_converter()
    config = temporal.client.config()
    config["data_converter"] = converter
    return Client(**config), converter.payload_codec


async def test_secret_value_is_absent_from_history_and_logs_with_the_codec(
    temporal: WorkflowEnvironment,
    cluster: Cluster,
    codec_client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, _ = codec_client
    value = f"hunter2-{uuid.uuid4().hex}"
    caplog.set_level(logging.DEBUG)

    identifier = await deploy_with(client, cluster, secret_request(value))

    history = await stored_history(temporal, identifier)
    for form in forms_of(value):
        assert history.count(form) == 0, (
            f"the secret appears in history as {form[:12]!r}…"
        )
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert value not in logged
    live = cluster.live("Secret", "default", "credentials")
    assert live is not None
    assert base64.b64decode(live["data"]["password"]).decode() == value


async def test_without_the_codec_the_history_does_hold_the_secret(
    temporal: WorkflowEnvironment, cluster: Cluster
) -> None:
    # The check above can fail: without a codec the same search finds the value.
    value = f"visible-{uuid.uuid4().hex}"
    identifier = await deploy_with(temporal.client, cluster, secret_request(value))
    history = await stored_history(temporal, identifier)
    assert history.count(value.encode()) > 0


async def test_codec_server_decodes_payloads_for_the_ui(
    temporal: WorkflowEnvironment, cluster: Cluster, codec_client
) -> None:
    client, codec = codec_client
    value = f"for-the-ui-{uuid.uuid4().hex}"
    identifier = await deploy_with(client, cluster, secret_request(value))
    history = await temporal.client.get_workflow_handle(identifier).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes.input

    async with TestClient(
        TestServer(build_app(codec, "http://localhost:8233"))
    ) as http:
        response = await http.post(
            "/decode",
            data=json_format.MessageToJson(started),
            headers={"X-Namespace": "default"},
        )
        assert response.status == 200
        assert (
            response.headers["Access-Control-Allow-Origin"] == "http://localhost:8233"
        )
        decoded = json_format.Parse(await response.text(), Payloads())
        preflight = await http.options("/decode")
        assert preflight.status == 200

    assert value.encode() in decoded.payloads[0].data
    assert value.encode() not in started.SerializeToString()
