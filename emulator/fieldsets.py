"""Field paths and field sets: the vocabulary of server-side apply ownership.

A path is a tuple of elements. A `str` element selects a map key. A `tuple` element
of `(name, value)` pairs selects the item of an associative list whose key fields
have those values, such as `(("name", "web"),)` for the container named `web`.

Maps are always granular: each leaf value is its own path. Lists are atomic (the
whole list is one leaf) unless the field is one of the known associative lists of
the core API (containers, env, volumes, ports and a few others), whose items are
merged by their key fields. This is a simplification of structured-merge-diff,
which reads the list types from the OpenAPI schema; custom resources therefore
get atomic lists everywhere. A path that ends with an item element marks the item
itself as owned, as `.` does in `fieldsV1`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

PathElement = str | tuple[tuple[str, Any], ...]
Path = tuple[PathElement, ...]

# Associative lists of the core API and the fields that key their items.
KEYED_LISTS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "imagePullSecrets": ("name",),
    "hostAliases": ("ip",),
    "resourceClaims": ("name",),
    "conditions": ("type",),
    "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
}

# Metadata fields that clients own; the rest of metadata belongs to the server.
OWNED_METADATA = ("labels", "annotations", "ownerReferences", "finalizers")


def list_keys(field: str | None, items: list[Any]) -> tuple[str, ...] | None:
    """Return the key fields of an associative list, or None for an atomic list."""
    if field == "ports":
        if items and all(
            isinstance(item, dict) and "containerPort" in item for item in items
        ):
            keys: tuple[str, ...] | None = ("containerPort",)
        elif items and all(isinstance(item, dict) and "port" in item for item in items):
            keys = ("port",)
        else:
            keys = None
    else:
        keys = KEYED_LISTS.get(field or "")
    if keys is None:
        return None
    seen = set()
    for item in items:
        if not isinstance(item, dict) or any(key not in item for key in keys):
            return None
        item_key = item_element(item, keys)
        if item_key in seen:
            return None
        seen.add(item_key)
    return keys


def item_element(
    item: dict[str, Any], keys: tuple[str, ...]
) -> tuple[tuple[str, Any], ...]:
    """Return the path element of a list item; pairs are sorted, as `decode` sorts them."""
    return tuple(sorted((key, item[key]) for key in keys))


def tracked_content(
    obj: dict[str, Any], subresource: str | None, has_status: bool
) -> dict[str, Any]:
    """Return the part of an object whose fields managers can own.

    For the `status` subresource that is `status` alone. For the main resource it
    is everything but `apiVersion`, `kind`, server-owned metadata and, when
    status is a subresource, `status`.
    """
    if subresource == "status":
        return {"status": obj["status"]} if obj.get("status") is not None else {}
    content: dict[str, Any] = {}
    for field, value in obj.items():
        if field in ("apiVersion", "kind") or (field == "status" and has_status):
            continue
        if field == "metadata":
            owned = {
                key: value[key] for key in OWNED_METADATA if value.get(key) is not None
            }
            if owned:
                content["metadata"] = owned
            continue
        content[field] = value
    return content


def leaf_paths(
    value: Any, prefix: Path = (), field: str | None = None
) -> Iterator[Path]:
    """Yield the path of every owned leaf in a value, plus associative list items."""
    if isinstance(value, dict) and value:
        for name, child in value.items():
            if child is None:
                continue
            yield from leaf_paths(child, prefix + (name,), name)
        return
    if isinstance(value, list):
        keys = list_keys(field, value)
        if keys is not None:
            for item in value:
                item_path = prefix + (item_element(item, keys),)
                yield item_path
                for name, child in item.items():
                    if child is not None:
                        yield from leaf_paths(child, item_path + (name,), name)
            return
    if prefix:
        yield prefix


def get_path(obj: Any, path: Path) -> tuple[bool, Any]:
    """Return `(found, value)` for a path in an object."""
    current = obj
    for element in path:
        if isinstance(element, str):
            if not isinstance(current, dict) or element not in current:
                return False, None
            current = current[element]
        else:
            if not isinstance(current, list):
                return False, None
            current = _find_item(current, element)
            if current is None:
                return False, None
    return True, current


def _find_item(
    items: list[Any], element: tuple[tuple[str, Any], ...]
) -> dict[str, Any] | None:
    for item in items:
        if isinstance(item, dict) and all(
            item.get(key) == value for key, value in element
        ):
            return item
    return None


def set_path(obj: dict[str, Any], path: Path, value: Any) -> None:
    """Set the value at a path, creating maps and list items on the way.

    A path that ends at a list item only makes sure the item exists.
    """
    current: Any = obj
    for index, element in enumerate(path):
        last = index == len(path) - 1
        next_element = None if last else path[index + 1]
        if isinstance(element, str):
            if last:
                current[element] = copy.deepcopy(value)
                return
            container = current.get(element)
            expected = dict if isinstance(next_element, str) else list
            if not isinstance(container, expected):
                container = expected()
                current[element] = container
            current = container
        else:
            item = _find_item(current, element)
            if item is None:
                item = {key: item_value for key, item_value in element}
                current.append(item)
            if last:
                return
            current = item


def remove_path(obj: dict[str, Any], path: Path) -> None:
    """Remove the value at a path, then prune the maps and lists it left empty."""
    if not path:
        return
    chain: list[Any] = [obj]
    for element in path[:-1]:
        found, child = get_path(chain[-1], (element,))
        if not found:
            return
        chain.append(child)
    parent, last = chain[-1], path[-1]
    if isinstance(last, str):
        if isinstance(parent, dict):
            parent.pop(last, None)
    elif isinstance(parent, list):
        item = _find_item(parent, last)
        if item is not None:
            parent.remove(item)
    for depth in range(len(chain) - 1, 0, -1):
        node, element = chain[depth], path[depth - 1]
        if node or not isinstance(element, str):
            break
        del chain[depth - 1][element]


def format_path(path: Path) -> str:
    """Render a path as the API does in conflict messages: `.spec.containers[name="web"]`."""
    text = ""
    for element in path:
        if isinstance(element, str):
            text += f".{element}"
        else:
            text += (
                "["
                + ",".join(f"{key}={json.dumps(value)}" for key, value in element)
                + "]"
            )
    return text


def encode(paths: set[Path]) -> dict[str, Any]:
    """Encode a field set as a `fieldsV1` object."""
    root: dict[str, Any] = {}
    for path in sorted(paths, key=lambda item: (len(item), str(item))):
        node = root
        for element in path:
            node = node.setdefault(_encode_element(element), {})
        if path and not isinstance(path[-1], str):
            node["."] = {}
    return root


def _encode_element(element: PathElement) -> str:
    if isinstance(element, str):
        return f"f:{element}"
    return "k:" + json.dumps(dict(element), separators=(",", ":"), sort_keys=True)


def decode(fields: dict[str, Any], prefix: Path = ()) -> set[Path]:
    """Decode a `fieldsV1` object into a field set; unknown entry kinds are skipped."""
    paths: set[Path] = set()
    for name, child in fields.items():
        if name == ".":
            paths.add(prefix)
            continue
        if name.startswith("f:"):
            element: PathElement = name[2:]
        elif name.startswith("k:"):
            try:
                element = tuple(sorted(json.loads(name[2:]).items()))
            except (ValueError, AttributeError):
                continue
        else:
            continue
        path = prefix + (element,)
        if isinstance(child, dict) and child:
            paths |= decode(child, path)
        else:
            paths.add(path)
    return paths
