"""CustomResourceDefinitions: establishing them and serving their resources.

After its ready delay a CRD gets `NamesAccepted=True` and `Established=True`, and
its served versions are added to the resource registry (and to kmock's
`resources`), so discovery and CRUD for the custom kind start working. A CRD
whose plural is already served by another type gets `NamesAccepted=False` and
is not served. Deleting a CRD removes its resources and all their objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import kmock

from emulator.podstatus import merge_conditions
from emulator.resources import ResourceType, crd_resource_types
from emulator.store import Key

if TYPE_CHECKING:
    from emulator.controller import Controller


def _condition(kind: str, ok: bool, reason: str, message: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message,
    }


def reconcile_crd(ctl: Controller, key: Key, crd: dict[str, Any]) -> None:
    if crd["metadata"].get("deletionTimestamp"):
        return

    types = crd_resource_types(crd)
    now = ctl.timestamp()
    old_status = crd.get("status") or {}
    conflict = _conflicting_type(ctl, crd, types)
    if conflict is not None:
        message = f'"{conflict.plural}" is already in use by {conflict.kind}'
        conditions = [
            _condition("NamesAccepted", False, "NameConflict", message),
            _condition(
                "Established", False, "NotAccepted", "not all names are accepted"
            ),
        ]
        ctl.write_status(
            key,
            crd,
            dict(
                old_status,
                conditions=merge_conditions(
                    old_status.get("conditions"), conditions, now
                ),
            ),
        )
        return

    if ctl.is_held(key, crd):
        return

    ready_at = ctl.ready_time(key, crd)
    if ctl.clock() < ready_at:
        ctl.wake_at(key, ready_at)
        return

    register(ctl, crd["metadata"]["name"], types)
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    names.setdefault("singular", names.get("kind", "").lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    storage = [
        version["name"]
        for version in spec.get("versions") or []
        if version.get("storage")
    ]
    conditions = [
        _condition("NamesAccepted", True, "NoConflicts", "no conflicts found"),
        _condition(
            "Established",
            True,
            "InitialNamesAccepted",
            "the initial names have been accepted",
        ),
    ]
    status = {
        "conditions": merge_conditions(old_status.get("conditions"), conditions, now),
        "acceptedNames": names,
        "storedVersions": sorted(
            set(old_status.get("storedVersions") or []) | set(storage)
        ),
    }
    stored = ctl.write_status(key, crd, status)
    ctl.report(key, stored, True)


def _conflicting_type(
    ctl: Controller, crd: dict[str, Any], types: list[ResourceType]
) -> ResourceType | None:
    for rt in types:
        existing = ctl.registry.get(rt.group, rt.version, rt.plural)
        if existing is not None and existing.crd_name != crd["metadata"]["name"]:
            return existing
    return None


def register(ctl: Controller, crd_name: str, types: list[ResourceType]) -> None:
    """Serve the given types for a CRD, replacing what the CRD served before."""
    previous = ctl.registry.served_by_crd(crd_name)
    unchanged = {
        (rt.version, rt.kind, rt.subresources, rt.namespaced) for rt in previous
    } == {(rt.version, rt.kind, rt.subresources, rt.namespaced) for rt in types}
    if previous and unchanged:
        return

    ctl.registry.unregister(previous)
    resources = ctl.cluster_resources()
    for rt in previous:
        resources.pop(kmock.resource(rt.group, rt.version, rt.plural), None)
    for rt in types:
        ctl.registry.register(rt)
        resources[kmock.resource(rt.group, rt.version, rt.plural)] = kmock.ResourceInfo(
            kind=rt.kind,
            singular=rt.singular,
            namespaced=rt.namespaced,
            verbs=set(rt.verbs),
            shortnames=set(rt.short_names),
            categories=set(rt.categories),
            subresources=set(rt.subresources),
        )
    ctl.on_crd_change()


def remove_crd(ctl: Controller, crd: dict[str, Any]) -> None:
    """Stop serving a deleted CRD's types and delete all objects of them."""
    name = crd["metadata"]["name"]
    types = ctl.registry.served_by_crd(name)
    if not types:
        return

    storage = types[0]
    for key, _ in ctl.store.list_keyed(storage.type_key):
        ctl.cluster.remove(key)
    ctl.registry.unregister(types)
    resources = ctl.cluster_resources()
    for rt in types:
        resources.pop(kmock.resource(rt.group, rt.version, rt.plural), None)
    ctl.on_crd_change()
