"""Parsing of Kubernetes API request paths and bodies into kmock `Request` objects.

kmock 0.8's own path parser fails on `/api/v1/namespaces` (it raises ValueError)
and reads `/api/v1/namespaces/NAME` as a namespace scope rather than the
Namespace object, so the emulator parses paths itself and builds the kmock
`Request` from the result. Bodies are parsed as JSON, or as YAML for the YAML
content types that server-side apply uses.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

import aiohttp.web
import kmock
import yaml

from emulator.errors import ApiError, bad_request

# Subresources of the Namespace object; `/namespaces/NAME/status` is not a
# namespaced resource called "status".
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclasses.dataclass(frozen=True)
class ApiPath:
    """The parts of a `/api/...` or `/apis/...` path; None where a part is absent."""

    group: str
    version: str | None = None
    namespace: str | None = None
    plural: str | None = None
    name: str | None = None
    subresource: str | None = None


def parse_api_path(path: str) -> ApiPath | None:
    """Split a Kubernetes API path; return None for paths outside `/api` and `/apis`."""
    parts = [part for part in path.strip("/").split("/") if part]
    if not parts or parts[0] not in ("api", "apis"):
        return None
    if parts[0] == "api":
        group = ""
        rest = parts[1:]
    else:
        if len(parts) < 2:
            return None
        group = parts[1]
        rest = parts[2:]
    if not rest:
        return ApiPath(group)
    version, rest = rest[0], rest[1:]

    namespace = None
    if (
        len(rest) >= 3
        and rest[0] == "namespaces"
        and rest[2] not in _NAMESPACE_SUBRESOURCES
    ):
        namespace, rest = rest[1], rest[2:]
    return ApiPath(
        group=group,
        version=version,
        namespace=namespace,
        plural=rest[0] if rest else None,
        name=rest[1] if len(rest) > 1 else None,
        subresource="/".join(rest[2:]) or None,
    )


def guess_action(
    path: ApiPath | None, method: str, query: dict[str, str]
) -> kmock.action | None:
    """Name the Kubernetes action the way kmock does, with PUT counted as UPDATE."""
    if path is None or path.plural is None:
        return None
    if method == "GET":
        if query.get("watch") in ("true", "1"):
            return kmock.action.WATCH
        return kmock.action.LIST if path.name is None else kmock.action.FETCH
    if path.name is None:
        return kmock.action.CREATE if method == "POST" else None
    return {
        "PATCH": kmock.action.UPDATE,
        "PUT": kmock.action.UPDATE,
        "DELETE": kmock.action.DELETE,
    }.get(method)


def parse_body(body: bytes, content_type: str) -> Any:
    """Decode a request body as JSON, or as YAML for YAML content types."""
    if not body.strip():
        return None
    text = body.decode("utf-8", errors="replace")
    if "yaml" in content_type:
        # Clients usually send JSON even for YAML content types; JSON is valid
        # YAML, and the JSON parser is much faster than the YAML one.
        if text.lstrip().startswith("{"):
            try:
                return json.loads(text)
            except ValueError:
                pass
        try:
            return yaml.load(text, Loader=_YAML_LOADER)
        except yaml.YAMLError as error:
            raise bad_request(f"error decoding YAML: {error}") from error
    try:
        return json.loads(text)
    except ValueError as error:
        raise bad_request(f"error decoding JSON: {error}") from error


@functools.lru_cache(maxsize=4096)
def _resource(group: str, version: str | None, plural: str | None) -> kmock.resource:
    # kmock.resource() parses its arguments with slow Protocol checks; reuse instances.
    return kmock.resource(group, version, plural)


async def build_request(
    raw: aiohttp.web.BaseRequest, request_id: int
) -> tuple[kmock.Request, ApiPath | None]:
    """Read and parse an aiohttp request into a kmock `Request` and its API path.

    Raises a 400 `ApiError` when the body is not valid JSON or YAML.
    """
    body = await raw.read()
    path = parse_api_path(raw.path)
    query = dict(raw.query)
    data = parse_body(body, raw.content_type) if body else None
    resource = (
        None if path is None else _resource(path.group, path.version, path.plural)
    )
    request = kmock.Request(
        id=request_id,
        raw_request=raw,
        url=raw.url,
        method=raw.method,
        params=query,
        headers=dict(raw.headers),
        body=body,
        text=body.decode("utf-8", errors="replace"),
        data=data,
        action=guess_action(path, raw.method, query),
        resource=resource,
        namespace=path.namespace if path else None,
        name=path.name if path else None,
        subresource=path.subresource if path else None,
    )
    return request, path


def require_object(data: Any) -> dict[str, Any]:
    """Return the body if it is a JSON object; raise 400 otherwise."""
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON or YAML object")
    return data
