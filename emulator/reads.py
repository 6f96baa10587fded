"""The read verbs: get one object and list a collection.

Lists honour `labelSelector`, `fieldSelector`, `limit` and `continue`, carry
`kind` (`ConfigMapList`), `apiVersion` and the current `resourceVersion`, and are
sorted by namespace and name as kube-apiserver returns them from etcd. A
`continue` token is the base64 of the last returned namespace and name, so a
paginated list does not see a consistent snapshot, only a stable order.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from emulator import errors
from emulator.errors import bad_request
from emulator.resources import ResourceType
from emulator.selectors import parse_field_selector, parse_label_selector
from emulator.store import ObjectStore, key_of


def in_version(obj: dict[str, Any], rt: ResourceType) -> dict[str, Any]:
    """Return the object as seen through the requested version of its type."""
    if obj.get("apiVersion") == rt.api_version:
        return obj
    return dict(obj, apiVersion=rt.api_version)


def get_object(
    store: ObjectStore,
    rt: ResourceType,
    storage: ResourceType,
    namespace: str | None,
    name: str,
) -> dict[str, Any]:
    obj = store.get(key_of(storage, namespace, name))
    if obj is None:
        raise errors.not_found(rt.plural, rt.group, name)
    return in_version(obj, rt)


def list_objects(
    store: ObjectStore,
    rt: ResourceType,
    namespace: str | None,
    params: dict[str, str],
) -> dict[str, Any]:
    labels_match = parse_label_selector(params.get("labelSelector"))
    fields_match = parse_field_selector(params.get("fieldSelector"))
    limit = _parse_limit(params.get("limit"))
    after = _decode_continue(params.get("continue"))

    items: list[dict[str, Any]] = []
    last_position: tuple[str, str] | None = None
    remaining = 0
    for key, obj in store.list_keyed(rt.type_key, namespace if rt.namespaced else None):
        position = (key[2] or "", key[3])
        if after is not None and position <= after:
            continue
        if not labels_match(obj["metadata"].get("labels") or {}) or not fields_match(
            obj
        ):
            continue
        if limit is not None and len(items) >= limit:
            remaining += 1
            continue
        items.append(in_version(obj, rt))
        last_position = position

    metadata: dict[str, Any] = {"resourceVersion": str(store.revision)}
    if remaining and last_position is not None:
        metadata["continue"] = _encode_continue(last_position)
        metadata["remainingItemCount"] = remaining
    return {
        "kind": f"{rt.kind}List",
        "apiVersion": rt.api_version,
        "metadata": metadata,
        "items": items,
    }


def _parse_limit(value: str | None) -> int | None:
    if not value:
        return None
    try:
        limit = int(value)
    except ValueError as error:
        raise bad_request(f"invalid limit {value!r}: must be an integer") from error
    return limit if limit > 0 else None


def _encode_continue(position: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode()


def _decode_continue(token: str | None) -> tuple[str, str] | None:
    if not token:
        return None
    try:
        namespace, name = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError) as error:
        raise bad_request(
            "invalid continue token: it must come from a previous list response"
        ) from error
    return (str(namespace), str(name))
