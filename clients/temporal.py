"""Connecting to Temporal with the standard client configuration.

The address, namespace, API key and TLS settings come from Temporal's own client
configuration: the environment (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`,
`TEMPORAL_API_KEY`, `TEMPORAL_PROFILE`, ...) and the TOML file of the `temporal`
CLI (`TEMPORAL_CONFIG_FILE`). Without any of them the client connects to a local
server at localhost:7233, namespace `default`.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec
from temporalio.envconfig import ClientConfigProfile
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from clients.codec import (
    ChainCodec,
    CompressionCodec,
    EncryptionCodec,
    key_from_environment,
)
from workflows.types import TASK_QUEUE

DEFAULT_ADDRESS = "localhost:7233"


def connect_settings() -> dict[str, Any]:
    """Keyword arguments for `Client.connect` from Temporal's standard configuration."""
    settings: dict[str, Any] = dict(
        ClientConfigProfile.load().to_client_connect_config()
    )
    settings.setdefault("target_host", DEFAULT_ADDRESS)
    settings.setdefault("namespace", "default")
    return settings


def payload_codec() -> ChainCodec:
    """Compression of large payloads, then encryption when a key is configured."""
    key = key_from_environment()
    codecs: list[PayloadCodec] = [CompressionCodec()]
    if key is not None:
        codecs.append(EncryptionCodec(key))
    return ChainCodec(codecs)


def data_converter() -> DataConverter:
    """Pydantic JSON payloads through `payload_codec`."""
    return dataclasses.replace(pydantic_data_converter, payload_codec=payload_codec())


def encryption_enabled() -> bool:
    return key_from_environment() is not None


def quiet_runtime() -> Runtime:
    """A Temporal runtime that logs only errors, for short-lived commands.

    The SDK's core otherwise prints a warning line for every retried call while the
    server is unreachable, before the command's own message says what happened.
    """
    filter = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=filter)))


async def connect(*, quiet: bool = False, **overrides: Any) -> Client:
    settings = connect_settings()
    settings.update(overrides)
    if quiet:
        settings["runtime"] = quiet_runtime()
    return await Client.connect(**settings, data_converter=data_converter())


def task_queue() -> str:
    """The task queue deployments are sent to: `OAMFLOW_TASK_QUEUE`, else `oamflow`."""
    return os.environ.get("OAMFLOW_TASK_QUEUE") or TASK_QUEUE


def ui_url(namespace: str, workflow_id: str) -> str:
    """The Temporal UI page of a workflow: `OAMFLOW_UI_URL`, else the local dev server's UI."""
    base = os.environ.get("OAMFLOW_UI_URL", "http://localhost:8233").rstrip("/")
    return f"{base}/namespaces/{namespace}/workflows/{workflow_id}"
