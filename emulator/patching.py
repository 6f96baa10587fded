"""Patch formats of PATCH requests other than server-side apply.

* JSON merge patch (RFC 7386, `application/merge-patch+json`).
* Strategic merge patch (`application/strategic-merge-patch+json`), simplified:
  a merge patch in which the associative lists of `emulator.fieldsets` merge
  item by item on their key fields, and an item carrying `"$patch": "delete"`
  is removed. Other directives (`$retainKeys`, `$setElementOrder`) are ignored.
* JSON patch (RFC 6902, `application/json-patch+json`).

All functions return a new value and leave their inputs unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

from emulator import fieldsets
from emulator.errors import ApiError, bad_request


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch: maps merge, `null` deletes, the rest replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any, field: str | None = None) -> Any:
    """Apply a strategic merge patch with the simplifications in the module docstring."""
    if isinstance(patch, list) and isinstance(target, list):
        keys = fieldsets.list_keys(
            field, [item for item in patch if isinstance(item, dict)]
        )
        if keys is not None and fieldsets.list_keys(field, target) == keys:
            return _merge_keyed_list(target, patch, keys, field)
        return copy.deepcopy([item for item in patch if not _is_delete(item)])
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {
            key: value for key, value in copy.deepcopy(patch).items() if key != "$patch"
        }
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = strategic_merge_patch(result.get(key), value, key)
    return result


def _is_delete(item: Any) -> bool:
    return isinstance(item, dict) and item.get("$patch") == "delete"


def _merge_keyed_list(
    target: list[Any], patch: list[Any], keys: tuple[str, ...], field: str | None
) -> list[Any]:
    result = copy.deepcopy(target)
    for item in patch:
        element = fieldsets.item_element(item, keys)
        index = next(
            (
                position
                for position, existing in enumerate(result)
                if fieldsets.item_element(existing, keys) == element
            ),
            None,
        )
        if _is_delete(item):
            if index is not None:
                del result[index]
        elif index is None:
            result.append(strategic_merge_patch({}, item, field))
        else:
            result[index] = strategic_merge_patch(result[index], item, field)
    return result


def json_patch(target: Any, operations: Any) -> Any:
    """Apply an RFC 6902 JSON patch; raise a 422 `ApiError` when an operation fails."""
    if not isinstance(operations, list):
        raise bad_request("json patch must be a list of operations")
    document = copy.deepcopy(target)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation:
            raise bad_request(f"invalid json patch operation: {operation!r}")
        document = _apply_operation(document, operation)
    return document


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid json pointer {path!r}: must start with '/'")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _failed(operation: dict[str, Any], reason: str) -> ApiError:
    return ApiError(
        422,
        f"the server rejected our request due to an error in our request: "
        f"json patch {operation.get('op')} operation on {operation.get('path')!r} "
        f"failed: {reason}",
    )


def _resolve(document: Any, parts: list[str], operation: dict[str, Any]) -> Any:
    current = document
    for part in parts:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise _failed(operation, "path does not exist")
    return current


def _apply_operation(document: Any, operation: dict[str, Any]) -> Any:
    op = operation["op"]
    parts = _pointer(operation.get("path", ""))
    if op == "test":
        if _resolve(document, parts, operation) != operation.get("value"):
            raise _failed(operation, "testing value does not match")
        return document
    if op in ("move", "copy"):
        source = _pointer(operation.get("from", ""))
        value = copy.deepcopy(_resolve(document, source, operation))
        if op == "move":
            document = _remove(document, source, operation)
        return _add(document, parts, value, operation)
    if op == "remove":
        return _remove(document, parts, operation)
    if op == "add":
        return _add(document, parts, copy.deepcopy(operation.get("value")), operation)
    if op == "replace":
        _resolve(document, parts, operation)
        document = _remove(document, parts, operation)
        return _add(document, parts, copy.deepcopy(operation.get("value")), operation)
    raise bad_request(f"unsupported json patch operation {op!r}")


def _add(document: Any, parts: list[str], value: Any, operation: dict[str, Any]) -> Any:
    if not parts:
        return value
    parent = _resolve(document, parts[:-1], operation)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise _failed(operation, "index out of range")
    else:
        raise _failed(operation, "parent is not a container")
    return document


def _remove(document: Any, parts: list[str], operation: dict[str, Any]) -> Any:
    if not parts:
        return None
    parent = _resolve(document, parts[:-1], operation)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        del parent[int(last)]
    else:
        raise _failed(operation, "path does not exist")
    return document
