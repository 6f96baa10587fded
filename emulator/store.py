"""In-memory object storage with indexes, a global resourceVersion and watch fan-out.

Objects live in kmock's `ObjectsArray` (exposed as `Emulator.objects`), keyed by
the storage-version resource, namespace and name. Each write replaces the whole
`kmock.Object`, so its history holds only the current version and memory stays
bounded. Stored dicts are treated as immutable: writers build a new dict for every
change, and readers may serialize a stored dict without copying it.

Beside the array, the store keeps the indexes that make the emulator fast:
per-type and per-namespace name sets for listing, a uid index, and an owner uid
index for garbage collection. Every change gets the next value of one global
counter as its `resourceVersion`, is offered to the watchers of its type and is
kept in a bounded history so that a watch can resume from a recent version.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import kmock

from emulator.resources import ResourceType

# (group, plural, namespace, name); namespace is None for cluster-scoped objects.
Key = tuple[str, str, str | None, str]
TypeKey = tuple[str, str]


def key_of(rt: ResourceType, namespace: str | None, name: str) -> Key:
    return (rt.group, rt.plural, namespace if rt.namespaced else None, name)


@dataclasses.dataclass(frozen=True)
class Change:
    """One stored change: `ADDED`, `MODIFIED` or `DELETED`, as watch events name them."""

    type: str
    key: Key
    obj: dict[str, Any]
    old: dict[str, Any] | None
    revision: int


class Watcher:
    """One open watch: a filtered, bounded queue of changes for one resource type."""

    def __init__(
        self,
        type_key: TypeKey,
        namespace: str | None,
        predicate: Callable[[dict[str, Any]], bool],
        max_queued: int,
    ) -> None:
        self.type_key = type_key
        self.namespace = namespace
        self.predicate = predicate
        self.queue: asyncio.Queue[Change | None] = asyncio.Queue(max_queued)
        self.overflowed = False

    def offer(self, change: Change) -> None:
        """Queue a change if it matches; on overflow, end the watch instead of blocking."""
        if self.overflowed:
            return
        if self.namespace is not None and change.key[2] != self.namespace:
            return
        if not self.predicate(change.obj):
            return
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            # A client that reads too slowly loses its watch, as with a real
            # server; it then re-lists and watches again.
            self.overflowed = True
            self.queue.get_nowait()
            self.queue.put_nowait(None)


class ObjectStore:
    """The emulator's storage: objects, indexes, revisions, watchers and history."""

    def __init__(self, objects: kmock.ObjectsArray, history_size: int = 10_000) -> None:
        self.objects = objects
        self._history: collections.deque[Change] = collections.deque(
            maxlen=history_size
        )
        self._revision = 1
        self._names: dict[TypeKey, dict[str | None, dict[str, None]]] = {}
        self._kmock_resources: dict[TypeKey, kmock.resource] = {}
        self._uids: dict[str, Key] = {}
        self._dependents: dict[str, set[Key]] = {}
        self._watchers: dict[TypeKey, set[Watcher]] = {}
        self._listeners: list[Callable[[Change], None]] = []

    @property
    def revision(self) -> int:
        """The resourceVersion of the latest change, as an integer."""
        return self._revision

    def add_listener(self, listener: Callable[[Change], None]) -> None:
        """Call `listener` synchronously after every stored change."""
        self._listeners.append(listener)

    def clear(self) -> None:
        """Remove all objects and history; the revision counter keeps growing."""
        self.objects.clear()
        self._history.clear()
        self._names.clear()
        self._uids.clear()
        self._dependents.clear()
        self.close_watches()

    def close_watches(self) -> None:
        """End every open watch stream."""
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.overflowed = True
                with contextlib.suppress(asyncio.QueueFull):
                    watcher.queue.put_nowait(None)
        self._watchers.clear()

    # Reads.

    def get(self, key: Key) -> dict[str, Any] | None:
        resource = self._kmock_resources.get((key[0], key[1]))
        if resource is None:
            return None
        array_key = (resource, key[2], key[3])
        if array_key not in self.objects:
            return None
        return self.objects[array_key].raw

    def list(
        self, type_key: TypeKey, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        """Return objects of one type sorted by namespace and name, as etcd orders them."""
        return [obj for _, obj in self.list_keyed(type_key, namespace)]

    def list_keyed(
        self, type_key: TypeKey, namespace: str | None = None
    ) -> list[tuple[Key, dict[str, Any]]]:
        by_namespace = self._names.get(type_key, {})
        if namespace is not None:
            namespaces = [namespace] if namespace in by_namespace else []
        else:
            namespaces = sorted(by_namespace, key=lambda ns: ns or "")
        result = []
        for ns in namespaces:
            for name in sorted(by_namespace[ns]):
                key = (type_key[0], type_key[1], ns, name)
                obj = self.get(key)
                if obj is not None:
                    result.append((key, obj))
        return result

    def count(self, type_key: TypeKey) -> int:
        return sum(len(names) for names in self._names.get(type_key, {}).values())

    def type_keys(self) -> list[TypeKey]:
        return [type_key for type_key, by_ns in self._names.items() if by_ns]

    def key_for_uid(self, uid: str) -> Key | None:
        return self._uids.get(uid)

    def dependents(self, uid: str) -> list[Key]:
        """Return the keys of objects whose ownerReferences name this uid."""
        return sorted(self._dependents.get(uid, ()), key=lambda key: str(key))

    def namespace_keys(self, namespace: str) -> Iterator[Key]:
        """Yield the keys of all objects in one namespace, across all types."""
        for type_key, by_namespace in list(self._names.items()):
            for name in list(by_namespace.get(namespace, ())):
                yield (type_key[0], type_key[1], namespace, name)

    # Writes.

    def put(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Store a new version of an object and stamp the next resourceVersion into it.

        `obj` must be a new dict that no one else holds, because the store keeps it.
        """
        meta = obj["metadata"]
        key = key_of(rt, meta.get("namespace"), meta["name"])
        old = self.get(key)
        self._revision += 1
        meta["resourceVersion"] = str(self._revision)

        resource = self._kmock_resources.get(rt.type_key)
        if resource is None:
            resource = kmock.resource(rt.group, rt.storage_version, rt.plural)
            self._kmock_resources[rt.type_key] = resource
        self.objects[resource, key[2], key[3]] = obj
        self._names.setdefault(rt.type_key, {}).setdefault(key[2], {})[key[3]] = None
        if old is not None:
            self._unindex_owners(key, old)
        self._index_owners(key, obj)
        self._uids[meta["uid"]] = key

        change = Change("MODIFIED" if old else "ADDED", key, obj, old, self._revision)
        self._publish(change)
        return obj

    def remove(self, key: Key) -> dict[str, Any] | None:
        """Delete an object; return its last state, or None if it did not exist."""
        old = self.get(key)
        if old is None:
            return None
        resource = self._kmock_resources[(key[0], key[1])]
        del self.objects[resource, key[2], key[3]]
        names = self._names[(key[0], key[1])][key[2]]
        del names[key[3]]
        if not names:
            del self._names[(key[0], key[1])][key[2]]
        self._unindex_owners(key, old)
        self._uids.pop(old["metadata"].get("uid", ""), None)
        self._dependents.pop(old["metadata"].get("uid", ""), None)

        self._revision += 1
        last = dict(
            old, metadata=dict(old["metadata"], resourceVersion=str(self._revision))
        )
        self._publish(Change("DELETED", key, last, old, self._revision))
        return last

    def _index_owners(self, key: Key, obj: dict[str, Any]) -> None:
        for reference in obj["metadata"].get("ownerReferences") or []:
            uid = reference.get("uid")
            if uid:
                self._dependents.setdefault(uid, set()).add(key)

    def _unindex_owners(self, key: Key, obj: dict[str, Any]) -> None:
        for reference in obj["metadata"].get("ownerReferences") or []:
            dependents = self._dependents.get(reference.get("uid", ""))
            if dependents is not None:
                dependents.discard(key)

    def _publish(self, change: Change) -> None:
        self._history.append(change)
        for watcher in list(self._watchers.get((change.key[0], change.key[1]), ())):
            watcher.offer(change)
        for listener in self._listeners:
            listener(change)

    # Watches.

    def watch(
        self,
        type_key: TypeKey,
        namespace: str | None,
        predicate: Callable[[dict[str, Any]], bool],
        max_queued: int = 10_000,
    ) -> Watcher:
        watcher = Watcher(type_key, namespace, predicate, max_queued)
        self._watchers.setdefault(type_key, set()).add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        self._watchers.get(watcher.type_key, set()).discard(watcher)

    def changes_since(self, type_key: TypeKey, revision: int) -> list[Change] | None:
        """Return the kept changes of one type after `revision`.

        Returns None when the history no longer reaches back to `revision`, in
        which case a watch must respond with 410 Gone, as kube-apiserver does once
        etcd has compacted that revision.
        """
        if revision >= self._revision:
            return []
        if not self._history or self._history[0].revision > revision + 1:
            return None
        return [
            change
            for change in self._history
            if change.revision > revision and (change.key[0], change.key[1]) == type_key
        ]
