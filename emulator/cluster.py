"""Object lifecycle shared by API requests and the controller.

`Cluster.save` stamps server-owned metadata and stores an object: `uid` and
`creationTimestamp` on create, `generation` (1 on create, +1 whenever anything
outside `metadata` and `status` changes) and a new `resourceVersion`. A save that
changes nothing stores nothing, so `resourceVersion` and `generation` stay put.

`Cluster.delete` implements deletion as kube-apiserver and the garbage collector
do together: finalizers postpone removal, and `propagationPolicy` decides what
happens to dependents found through `metadata.ownerReferences`. Dependents are
deleted in the same call instead of by a background collector, so a
`Background` deletion behaves like `Foreground` with an earlier response.
Deleting a namespace deletes everything in it.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from emulator.eventlog import EventLog
from emulator.resources import ResourceRegistry, ResourceType
from emulator.store import Key, ObjectStore, key_of

# Namespaces that kube-apiserver refuses to delete.
PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})

PROPAGATION_POLICIES = ("Background", "Foreground", "Orphan")


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    """Return the fields whose change bumps `metadata.generation`."""
    return {
        key: value
        for key, value in obj.items()
        if key not in ("metadata", "status", "apiVersion", "kind")
    }


def _same_object(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Compare two versions of an object, ignoring `resourceVersion`."""
    if old.keys() != new.keys():
        return False
    for field, value in new.items():
        if field == "metadata":
            old_meta = {
                k: v for k, v in old["metadata"].items() if k != "resourceVersion"
            }
            new_meta = {k: v for k, v in value.items() if k != "resourceVersion"}
            if old_meta != new_meta:
                return False
        elif old[field] != value:
            return False
    return True


class Cluster:
    """Stores and deletes objects with Kubernetes metadata and deletion semantics."""

    def __init__(
        self, registry: ResourceRegistry, store: ObjectStore, log: EventLog
    ) -> None:
        self.registry = registry
        self.store = store
        self.log = log

    def type_of(self, key: Key) -> ResourceType | None:
        return self.registry.storage_type(key[0], key[1])

    def get(
        self, rt: ResourceType, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        return self.store.get(key_of(rt, namespace, name))

    def stamp(
        self, rt: ResourceType, new: dict[str, Any], old: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Fill in server-owned metadata of `new` (modified in place) from `old`."""
        new["apiVersion"] = rt.storage_api_version
        new["kind"] = rt.kind
        meta = new.setdefault("metadata", {})
        if not rt.namespaced:
            meta.pop("namespace", None)
        if old is None:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta["creationTimestamp"] = now_rfc3339()
            meta["generation"] = 1
            meta.pop("resourceVersion", None)
            return new
        old_meta = old["metadata"]
        for field in ("uid", "creationTimestamp", "resourceVersion"):
            meta[field] = old_meta[field]
        generation = old_meta.get("generation", 1)
        if spec_part(old) != spec_part(new):
            generation += 1
        meta["generation"] = generation
        return new

    def save(
        self,
        rt: ResourceType,
        new: dict[str, Any],
        old: dict[str, Any] | None,
        *,
        dry_run: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """Stamp and store `new`; return the stored object and whether anything changed.

        `new` must be a fresh dict that the caller no longer modifies. With
        `dry_run`, the result is computed but not stored.
        """
        stamped = self.stamp(rt, new, old)
        if old is not None and _same_object(old, stamped):
            return old, False
        if dry_run:
            return stamped, True
        stored = self.store.put(rt, stamped)
        meta = stored["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            key = key_of(rt, meta.get("namespace"), meta["name"])
            self.remove(key, "Background")
        return stored, True

    def delete(
        self, key: Key, policy: str = "Background", *, dry_run: bool = False
    ) -> dict[str, Any] | None:
        """Delete an object with a propagation policy; return its last state.

        An object with finalizers only gets `deletionTimestamp` and stays until
        an update removes the finalizers. Returns None when the object is missing.
        """
        obj = self.store.get(key)
        rt = self.type_of(key)
        if obj is None or rt is None:
            return None
        meta = obj["metadata"]
        if meta.get("finalizers") or meta.get("deletionTimestamp"):
            if meta.get("deletionTimestamp"):
                return obj
            marked = dict(
                obj,
                metadata=dict(
                    meta, deletionTimestamp=now_rfc3339(), deletionGracePeriodSeconds=0
                ),
            )
            if dry_run:
                return marked
            if rt.kind == "Namespace":
                marked["status"] = dict(obj.get("status") or {}, phase="Terminating")
            return self.store.put(rt, marked)
        if dry_run:
            return obj
        return self.remove(key, policy)

    def remove(self, key: Key, policy: str = "Background") -> dict[str, Any] | None:
        """Remove an object now and handle its dependents according to `policy`."""
        obj = self.store.get(key)
        rt = self.type_of(key)
        if obj is None or rt is None:
            return None
        uid = obj["metadata"]["uid"]
        if rt.kind == "Namespace":
            for member in list(self.store.namespace_keys(obj["metadata"]["name"])):
                self.remove(member, "Background")
        if policy == "Orphan":
            self._orphan(uid)
        else:
            for dependent in self.store.dependents(uid):
                if self._owner_count(dependent) <= 1:
                    self.delete(dependent, "Background")
                else:
                    self._drop_owner(dependent, uid)
        last = self.store.remove(key)
        if last is not None:
            self.log.add(
                "deleted",
                kind=rt.kind,
                apiVersion=rt.storage_api_version,
                namespace=key[2],
                name=key[3],
            )
        return last

    def _owner_count(self, key: Key) -> int:
        obj = self.store.get(key)
        return len(obj["metadata"].get("ownerReferences") or []) if obj else 0

    def _orphan(self, uid: str) -> None:
        for dependent in self.store.dependents(uid):
            self._drop_owner(dependent, uid)

    def _drop_owner(self, key: Key, uid: str) -> None:
        obj = self.store.get(key)
        rt = self.type_of(key)
        if obj is None or rt is None:
            return
        references = [
            reference
            for reference in obj["metadata"].get("ownerReferences") or []
            if reference.get("uid") != uid
        ]
        meta = dict(obj["metadata"], ownerReferences=references)
        if not references:
            del meta["ownerReferences"]
        self.save(rt, dict(obj, metadata=meta), obj)
