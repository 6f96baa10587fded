"""Watch requests (`?watch=true`): a stream of JSON lines, one event per line.

Without `resourceVersion` (or with "0") the stream starts with an `ADDED` event
for every matching object, as kube-apiserver does. With a version, it replays the
kept changes after that version, or ends with a 410 `Expired` error event when
the version is older than the kept history. The stream ends after
`timeoutSeconds` (default 30 minutes), when the client disconnects, or when the
client reads too slowly and its queue overflows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import aiohttp.web

from emulator.errors import status_body
from emulator.reads import in_version
from emulator.resources import ResourceType
from emulator.selectors import parse_field_selector, parse_label_selector
from emulator.store import Change, ObjectStore

DEFAULT_TIMEOUT_SECONDS = 1800.0


def _event(change_type: str, obj: dict[str, Any], rt: ResourceType) -> bytes:
    return (
        json.dumps({"type": change_type, "object": in_version(obj, rt)}).encode()
        + b"\n"
    )


async def serve_watch(
    raw: aiohttp.web.BaseRequest,
    store: ObjectStore,
    rt: ResourceType,
    namespace: str | None,
    name: str | None,
    params: dict[str, str],
) -> aiohttp.web.StreamResponse:
    """Stream watch events for one resource type until timeout or disconnect."""
    labels_match = parse_label_selector(params.get("labelSelector"))
    fields_match = parse_field_selector(params.get("fieldSelector"))

    def matches(obj: dict[str, Any]) -> bool:
        meta = obj["metadata"]
        if name is not None and meta.get("name") != name:
            return False
        return labels_match(meta.get("labels") or {}) and fields_match(obj)

    namespace = namespace if rt.namespaced else None
    watcher = store.watch(rt.type_key, namespace, matches)
    try:
        timeout = float(params.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS)
    except ValueError:
        timeout = DEFAULT_TIMEOUT_SECONDS
    response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(raw)
    try:
        start = params.get("resourceVersion")
        if not start or start == "0":
            for obj in store.list(rt.type_key, namespace):
                if matches(obj):
                    await response.write(_event("ADDED", obj, rt))
        else:
            replay = store.changes_since(
                rt.type_key, int(start) if start.isdigit() else 0
            )
            if replay is None:
                gone = status_body(
                    410,
                    "Expired",
                    f"too old resource version: {start} ({store.revision})",
                )
                await response.write(
                    json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n"
                )
                return response
            for change in replay:
                if (namespace is None or change.key[2] == namespace) and matches(
                    change.obj
                ):
                    await response.write(_event(change.type, change.obj, rt))
        await _stream(response, watcher.queue, rt, timeout)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        store.unwatch(watcher)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()
    return response


async def _stream(
    response: aiohttp.web.StreamResponse,
    queue: asyncio.Queue[Change | None],
    rt: ResourceType,
    timeout: float,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        try:
            change = await asyncio.wait_for(queue.get(), remaining)
        except TimeoutError:
            return
        if change is None:
            return
        await response.write(_event(change.type, change.obj, rt))
