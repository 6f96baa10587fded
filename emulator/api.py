"""Request dispatch for the Kubernetes API paths, with fault injection and the write log.

`KubernetesApi.serve` maps a parsed request to discovery, a read, a watch or a
write. Every write is logged in the event log with its outcome, including
rejected ones. After a successful write the controller settles the work that is
due at once, so with `readyDelay` 0 the response already shows the object ready.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp.web
import kmock

from emulator import deletion, discovery, errors, openapi, scaling, tables
from emulator.errors import ApiError
from emulator.eventlog import EventLog
from emulator.faults import Fault, FaultInjector
from emulator.logs import get_logger
from emulator.reads import get_object, in_version, list_objects
from emulator.resources import ResourceRegistry, ResourceType
from emulator.routing import ApiPath
from emulator.store import ObjectStore
from emulator.watching import serve_watch
from emulator.writes import WriteRequest, WriteResult, Writes

log = get_logger(__name__)

HEALTH_PATHS = frozenset({"/healthz", "/livez", "/readyz"})


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> aiohttp.web.Response:
    return aiohttp.web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def error_response(error: ApiError) -> aiohttp.web.Response:
    return json_response(error.status(), error.code, error.headers)


def classify(
    method: str, path: ApiPath, params: dict[str, str], content_type: str
) -> str:
    """Name the API verb of a request: get, list, watch, create, apply, status..."""
    if path.subresource == "status" and method in ("PUT", "PATCH"):
        return "status"

    if path.subresource == "scale":
        return "get" if method == "GET" else "scale"

    if method == "GET":
        if params.get("watch") in ("true", "1"):
            return "watch"
        return "list" if path.name is None else "get"

    if path.name is None:
        return {"POST": "create", "DELETE": "deletecollection"}.get(
            method, "unsupported"
        )
    if method == "PATCH":
        return (
            "apply" if content_type.startswith("application/apply-patch") else "patch"
        )
    return {"PUT": "update", "DELETE": "delete"}.get(method, "unsupported")


class ConnectionDropped(Exception):
    """Raised to close a connection without a response."""


class KubernetesApi:
    """Serves Kubernetes API requests against the emulator's store."""

    def __init__(
        self,
        *,
        registry: ResourceRegistry,
        store: ObjectStore,
        writes: Writes,
        faults: FaultInjector,
        event_log: EventLog,
        settle: Callable[[], None],
    ) -> None:
        self.registry = registry
        self.store = store
        self.writes = writes
        self.faults = faults
        self.event_log = event_log
        self.settle = settle

    async def serve(
        self, raw: aiohttp.web.BaseRequest, request: kmock.Request, path: ApiPath | None
    ) -> aiohttp.web.StreamResponse:
        """Serve one request; raise `ApiError` for error responses, `ConnectionDropped` to drop."""
        if path is None:
            return self._serve_other(raw.path)
        if path.version is None:
            if path.group == "":
                return json_response(discovery.core_versions())
            return json_response(discovery.group(self.registry, path.group))
        if path.plural is None:
            return json_response(
                discovery.resource_list(self.registry, path.group, path.version)
            )

        rt = self.registry.get(path.group, path.version, path.plural)
        storage = self.registry.storage_type(path.group, path.plural)
        if rt is None or storage is None:
            raise errors.resource_not_found()
        if (path.namespace is not None and not rt.namespaced) or (
            path.subresource is not None and path.subresource not in rt.subresources
        ):
            raise errors.resource_not_found()

        params = dict(request.params)
        verb = classify(raw.method, path, params, raw.content_type)
        name = path.name
        if name is None and verb == "create" and isinstance(request.data, dict):
            name = (request.data.get("metadata") or {}).get("name")
        fault = self.faults.decide(verb, rt.kind, path.namespace, name)
        if fault is not None:
            return self._inject(fault, verb, raw.method, rt, path.namespace, name)

        if verb in ("get", "list", "watch"):
            return await self._read(raw, verb, rt, storage, path, params)
        req = WriteRequest(
            rt=rt,
            storage=storage,
            namespace=path.namespace if rt.namespaced else None,
            name=path.name,
            subresource=path.subresource,
            body=request.data,
            content_type=raw.content_type,
            params=params,
            user_agent=raw.headers.get("User-Agent", ""),
        )
        return self._write(raw.method, verb, req, name)

    def _serve_other(self, path: str) -> aiohttp.web.StreamResponse:
        if path == "/version":
            return json_response(discovery.server_version())
        if path == "/apis":
            return json_response(discovery.group_list(self.registry))
        if path == "/":
            return json_response(discovery.root_paths(self.registry))
        if path in HEALTH_PATHS:
            return aiohttp.web.Response(text="ok")
        if path == "/openapi/v3":
            return json_response(openapi.root(self.registry))
        if path.startswith("/openapi/v3/"):
            return json_response(openapi.group_version(self.registry, path))
        raise errors.resource_not_found()

    async def _read(
        self,
        raw: aiohttp.web.BaseRequest,
        verb: str,
        rt: ResourceType,
        storage: ResourceType,
        path: ApiPath,
        params: dict[str, str],
    ) -> aiohttp.web.StreamResponse:
        namespace = path.namespace if rt.namespaced else None
        if verb == "watch":
            return await serve_watch(raw, self.store, rt, namespace, path.name, params)
        if path.subresource == "scale":
            req = WriteRequest(
                rt, storage, namespace, path.name, "scale", None, "", params, ""
            )
            return json_response(scaling.scale(self.writes, req, "GET").body)
        if verb == "get":
            assert path.name is not None
            body = get_object(self.store, rt, storage, namespace, path.name)
        else:
            body = list_objects(self.store, rt, namespace, params)
        if tables.wants_table(raw.headers.get("Accept", "")):
            body = tables.to_table(rt, body, params)
        return json_response(body)

    def _write(
        self, method: str, verb: str, req: WriteRequest, name: str | None
    ) -> aiohttp.web.Response:
        fields = {
            "verb": verb,
            "method": method,
            "kind": req.rt.kind,
            "apiVersion": req.rt.api_version,
            "namespace": req.namespace,
            "fieldManager": req.params.get("fieldManager"),
            "dryRun": req.params.get("dryRun") == "All",
        }
        try:
            result = self._dispatch_write(method, verb, req)
        except ApiError as error:
            self.event_log.add(
                "write", name=name, code=error.code, changed=False, **fields
            )
            raise
        fields["dryRun"] = req.dry_run
        self.event_log.add(
            "write",
            name=req.name or (result.obj or {}).get("metadata", {}).get("name", name),
            code=result.code,
            changed=result.changed,
            **fields,
        )
        body = result.body
        if result.changed and not req.dry_run:
            self.settle()
            if result.obj is not None and verb != "scale":
                meta = result.obj["metadata"]
                current = self.store.get(
                    (
                        req.storage.group,
                        req.storage.plural,
                        meta.get("namespace"),
                        meta["name"],
                    )
                )
                body = current if current is not None else body
        if body.get("kind") == req.storage.kind:
            body = in_version(body, req.rt)
        return json_response(body, result.code)

    def _dispatch_write(self, method: str, verb: str, req: WriteRequest) -> WriteResult:
        if verb == "create":
            return self.writes.create(req)
        if verb == "scale":
            return scaling.scale(self.writes, req, method)
        if verb in ("update", "status") and method == "PUT":
            return self.writes.replace(req)
        if verb in ("patch", "apply", "status"):
            return self.writes.patch(req)
        if verb == "delete":
            return deletion.delete(self.writes, req)
        if verb == "deletecollection":
            return self._delete_collection(req)
        raise errors.method_not_allowed(method, req.rt.plural, req.rt.group)

    def _delete_collection(self, req: WriteRequest) -> WriteResult:
        listing = list_objects(self.store, req.rt, req.namespace, req.params)
        for item in listing["items"]:
            meta = item["metadata"]
            one = WriteRequest(
                req.rt,
                req.storage,
                meta.get("namespace"),
                meta["name"],
                None,
                req.body,
                req.content_type,
                req.params,
                req.user_agent,
            )
            deletion.delete(self.writes, one)
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
        }
        return WriteResult(200, status, bool(listing["items"]), "deletecollection")

    def _inject(
        self,
        fault: Fault,
        verb: str,
        method: str,
        rt: ResourceType,
        namespace: str | None,
        name: str | None,
    ) -> aiohttp.web.StreamResponse:
        self.event_log.add(
            "fault",
            verb=verb,
            method=method,
            kind=rt.kind,
            apiVersion=rt.api_version,
            namespace=namespace,
            name=name,
            code=None if fault.kind == "drop" else fault.status,
            changed=False,
            reason=fault.kind,
            message=fault.message,
        )
        if fault.kind == "drop":
            raise ConnectionDropped(fault.message)
        headers = (
            {"Retry-After": str(fault.retry_after)}
            if fault.retry_after is not None
            else None
        )
        error = ApiError(fault.status, fault.message, headers=headers)
        return error_response(error)
