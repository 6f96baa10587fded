"""The emulated control plane: controllers, scheduler and kubelet in one asyncio task.

The controller is driven by stored changes, not by polling. `observe` receives every
change the store makes and queues the objects whose state depends on it: the
object itself when it is new or its generation changed, a pod's owner when the
pod changes, the pods waiting for a claim, ConfigMap or Secret that appeared. A
queued object is reconciled by the function for its kind (see `pods`,
`workloads`, `storage` and `crds`), which may ask to be woken again at a later
time, for example when a ready delay ends. `drain` runs everything that is due;
the API calls it after each write, and `run` calls it when timers expire.

Readiness is timed per object. When an object is created or its generation
changes, its ready time becomes now plus its delay: a per-object delay from the
control API if one matches, else `readyDelay`. Pods use the delay of their own
rule, else their owner's. Holds block readiness of matching objects and of the
pods they own; releasing a hold restarts the delay of everything it blocked.
Image faults change what the pods of matching images report. The controller's
own writes are not logged as writes; the moments objects become ready, unready
or failed are.
"""

from __future__ import annotations

import asyncio
import datetime
import fnmatch
import heapq
import ipaddress
import itertools
import time
from collections.abc import Callable
from typing import Any

import kmock

from emulator import crds, jobs, pods, statefulsets, storage, workloads
from emulator.cluster import Cluster
from emulator.config import EmulatorConfig
from emulator.eventlog import EventLog
from emulator.logs import get_logger
from emulator.podstatus import PodRuntime, is_finished
from emulator.resources import ResourceRegistry
from emulator.rules import ObjectPattern, ReadinessRules
from emulator.store import Change, Key, ObjectStore, TypeKey

log = get_logger(__name__)

PODS: TypeKey = ("", "pods")
CLAIMS: TypeKey = ("", "persistentvolumeclaims")
VOLUMES: TypeKey = ("", "persistentvolumes")
CONFIGMAPS: TypeKey = ("", "configmaps")
SECRETS: TypeKey = ("", "secrets")
EVENTS: TypeKey = ("", "events")
STORAGE_CLASSES: TypeKey = ("storage.k8s.io", "storageclasses")
CRDS: TypeKey = ("apiextensions.k8s.io", "customresourcedefinitions")

Reconciler = Callable[["Controller", Key, dict[str, Any]], None]
RECONCILERS: dict[TypeKey, Reconciler] = {
    PODS: pods.reconcile_pod,
    ("apps", "deployments"): workloads.reconcile_deployment,
    ("apps", "replicasets"): workloads.reconcile_replica_set,
    ("apps", "statefulsets"): statefulsets.reconcile_stateful_set,
    ("apps", "daemonsets"): workloads.reconcile_daemon_set,
    ("batch", "jobs"): jobs.reconcile_job,
    CLAIMS: storage.reconcile_claim,
    CRDS: crds.reconcile_crd,
}
POD_NETWORK = ipaddress.ip_network("10.244.0.0/16")
MAX_PASSES_PER_DRAIN = 100_000
MAX_PASSES_PER_KEY = 50


class Controller:
    """Reconciles workload objects; see the module docstring for the model."""

    def __init__(
        self,
        *,
        cluster: Cluster,
        config: EmulatorConfig,
        event_log: EventLog,
        resources: kmock.ResourcesArray,
        on_crd_change: Callable[[], None],
    ) -> None:
        self.cluster = cluster
        self.resources = resources
        self.store: ObjectStore = cluster.store
        self.registry: ResourceRegistry = cluster.registry
        self.config = config
        self.event_log = event_log
        self.on_crd_change = on_crd_change
        self.clock = time.monotonic
        self._heap: list[tuple[float, int, Key]] = []
        self._due: dict[Key, float] = {}
        self._sequence = itertools.count()
        self._wakeup: asyncio.Event | None = None
        self._drain_start: float | None = None
        self.rules = ReadinessRules()
        self.store.add_listener(self.observe)
        self.clear()

    def clear(self) -> None:
        """Forget all rules and per-object state, as after a reset."""
        self.rules.clear()
        self._heap.clear()
        self._due.clear()
        self._ready_at: dict[Key, float] = {}
        self._ready: dict[Key, bool | str] = {}
        self._held: set[Key] = set()
        self._runtime: dict[Key, PodRuntime] = {}
        self._consumers: dict[tuple[str, str], set[Key]] = {}
        self._waiters: dict[tuple[str, str | None, str], set[Key]] = {}
        self._events_recorded: set[tuple[str, str, str]] = set()
        self.progress: dict[Key, tuple[int, float, int]] = {}
        self.job_retry_at: dict[Key, float] = {}
        self._next_ip = 10

    # Rules set through the control API.

    def add_hold(self, hold_id: str, pattern: ObjectPattern) -> None:
        self.rules.holds[hold_id] = pattern

    def release(self, hold_id: str | None = None) -> bool:
        """Release one hold, or all when `hold_id` is None; return whether any was removed."""
        if hold_id is None:
            removed = bool(self.rules.holds)
            self.rules.holds.clear()
        else:
            removed = self.rules.holds.pop(hold_id, None) is not None
        for key in list(self._held):
            obj = self.store.get(key)
            if obj is None or not self._matches_hold(key, obj):
                self._held.discard(key)
                self.restart_ready_time(key, obj)
                self.enqueue(key)
        return removed

    def set_image_fault(self, image_glob: str, fault: str | None) -> None:
        """Set or (with None) remove an image fault, and queue the pods it affects."""
        self.rules.set_image_fault(image_glob, fault)
        # Pods of matching images change state on their next pass, and pods that
        # were waiting on a fault are woken by their back-off timers anyway.
        for key, pod in self.store.list_keyed(PODS):
            images = [
                c.get("image", "")
                for c in (pod.get("spec") or {}).get("containers") or []
            ]
            if any(fnmatch.fnmatchcase(image, image_glob) for image in images):
                self.enqueue(key)

    # Scheduling.

    def enqueue(self, key: Key, at: float | None = None) -> None:
        """Reconcile `key` at monotonic time `at` (now when None), unless it is due sooner."""
        if at is None:
            # Work caused during a drain runs in the same drain.
            at = self._drain_start if self._drain_start is not None else self.clock()
        when = at
        current = self._due.get(key)
        if current is not None and current <= when:
            return
        self._due[key] = when
        heapq.heappush(self._heap, (when, next(self._sequence), key))
        if self._wakeup is not None:
            self._wakeup.set()

    wake_at = enqueue

    def drain(self) -> None:
        """Reconcile everything that is due now, including work that this causes."""
        start = self.clock()
        self._drain_start = start
        try:
            self._drain_until(start)
        finally:
            self._drain_start = None

    def _drain_until(self, start: float) -> None:
        passes = 0
        per_key: dict[Key, int] = {}
        while (
            self._heap and self._heap[0][0] <= start and passes < MAX_PASSES_PER_DRAIN
        ):
            when, _, key = heapq.heappop(self._heap)
            if self._due.get(key) != when:
                continue
            del self._due[key]
            per_key[key] = per_key.get(key, 0) + 1
            if per_key[key] > MAX_PASSES_PER_KEY:
                # A reconciler that keeps asking for "now" would block the event
                # loop; slow it down to a poll instead.
                log.warning(
                    "controller reconciled %s %d times in one pass; retrying it in 10 ms",
                    key,
                    per_key[key] - 1,
                )
                self.enqueue(key, self.clock() + 0.01)
                continue
            passes += 1
            self._reconcile(key)
        if passes >= MAX_PASSES_PER_DRAIN:
            log.warning(
                "controller stopped a pass after %d reconciles; the rest runs next pass",
                passes,
            )

    async def run(self) -> None:
        """Reconcile due work until cancelled, sleeping until the next timer or change."""
        self._wakeup = asyncio.Event()
        while True:
            self.drain()
            self._wakeup.clear()
            timeout = max(0.0, self._heap[0][0] - self.clock()) if self._heap else None
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            except TimeoutError:
                pass

    def _reconcile(self, key: Key) -> None:
        handler = RECONCILERS.get((key[0], key[1]))
        obj = self.store.get(key)
        if handler is None or obj is None:
            return
        try:
            handler(self, key, obj)
        except Exception:
            log.exception(
                "controller failed to reconcile %s; it retries on the next change", key
            )

    # Change handling.

    def observe(self, change: Change) -> None:
        """Queue the work that a stored change causes; called by the store."""
        key, obj, old = change.key, change.obj, change.old
        type_key = (key[0], key[1])
        if change.type == "DELETED":
            self._forget(key, obj)
        elif type_key in RECONCILERS:
            new_generation = obj["metadata"].get("generation")
            if old is None or old["metadata"].get("generation") != new_generation:
                self.restart_ready_time(key, obj)
                self.enqueue(key)
        if type_key == PODS:
            self._observe_pod(change)
        elif type_key == CLAIMS:
            for consumer in self._consumers.get((key[2] or "", key[3]), ()):
                self.enqueue(consumer)
        elif type_key in (CONFIGMAPS, SECRETS) and change.type == "ADDED":
            kind = "ConfigMap" if type_key == CONFIGMAPS else "Secret"
            for waiter in self._waiters.pop((kind, key[2], key[3]), set()):
                self.enqueue(waiter)
        elif type_key == STORAGE_CLASSES and change.type == "ADDED":
            for waiter in self._waiters.pop(("StorageClass", None, key[3]), set()):
                self.enqueue(waiter)
        elif type_key == CRDS and change.type == "DELETED":
            crds.remove_crd(self, obj)
        if type_key == CLAIMS and change.type == "DELETED":
            storage.release_volume(self, obj)

    def _observe_pod(self, change: Change) -> None:
        owner = pods.controller_owner(change.obj)
        if owner is not None:
            owner_key = self._owner_key(change.key[2], owner)
            if owner_key is not None:
                self.enqueue(owner_key)
        namespace = change.key[2] or ""
        old_claims = set(pods.claim_names(change.old)) if change.old else set()
        new_claims = (
            set() if change.type == "DELETED" else set(pods.claim_names(change.obj))
        )
        for claim in old_claims - new_claims:
            self._consumers.get((namespace, claim), set()).discard(change.key)
        for claim in new_claims - old_claims:
            self._consumers.setdefault((namespace, claim), set()).add(change.key)
            self.enqueue((CLAIMS[0], CLAIMS[1], namespace, claim))

    def _owner_key(
        self, namespace: str | None, reference: dict[str, Any]
    ) -> Key | None:
        group = reference.get("apiVersion", "").rpartition("/")[0]
        rt = self.registry.for_kind(
            reference.get("apiVersion", ""), reference.get("kind", "")
        )
        if rt is None:
            return None
        return (
            group,
            rt.plural,
            namespace if rt.namespaced else None,
            reference.get("name", ""),
        )

    def _forget(self, key: Key, obj: dict[str, Any]) -> None:
        for table in (
            self._ready_at,
            self._ready,
            self._runtime,
            self.progress,
            self.job_retry_at,
        ):
            table.pop(key, None)  # type: ignore[attr-defined]
        self._held.discard(key)
        self._due.pop(key, None)
        uid = obj["metadata"].get("uid", "")
        self._events_recorded = {
            entry for entry in self._events_recorded if entry[0] != uid
        }

    # Timing, holds and faults, as used by the reconcilers.

    def timestamp(self) -> str:
        return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def delay_for(self, key: Key, obj: dict[str, Any]) -> float:
        owner = pods.controller_owner(obj)
        return self.rules.delay_for(
            obj.get("kind", ""), key[2], key[3], owner, self.config.ready_delay
        )

    def _matches_hold(self, key: Key, obj: dict[str, Any]) -> bool:
        return self.rules.is_held(
            obj.get("kind", ""), key[2], key[3], pods.controller_owner(obj)
        )

    def image_fault(self, image: str) -> str | None:
        return self.rules.image_fault(image)

    def restart_ready_time(self, key: Key, obj: dict[str, Any] | None) -> None:
        """Start the object's ready delay over from now."""
        if obj is None:
            return
        self._ready_at[key] = self.clock() + self.delay_for(key, obj)

    def ready_time(self, key: Key, obj: dict[str, Any]) -> float:
        if key not in self._ready_at:
            self.restart_ready_time(key, obj)
        return self._ready_at[key]

    def is_held(self, key: Key, obj: dict[str, Any]) -> bool:
        """Return whether a hold blocks this object (or its owner) and remember it for release."""
        if not self.rules.holds or not self._matches_hold(key, obj):
            return False
        self._held.add(key)
        return True

    def pod_runtime(self, key: Key) -> PodRuntime:
        return self._runtime.setdefault(key, PodRuntime())

    def allocate_pod_ip(self) -> str:
        ip = str(POD_NETWORK[self._next_ip])
        self._next_ip = (
            self._next_ip + 1 if self._next_ip + 2 < POD_NETWORK.num_addresses else 10
        )
        return ip

    # Dependencies between objects.

    def unbound_claims(self, pod_key: Key, pod: dict[str, Any]) -> list[str]:
        """Return the names of the pod's claims that are missing or not bound yet."""
        namespace = pod_key[2] or ""
        unbound = []
        for claim in pods.claim_names(pod):
            obj = self.store.get((CLAIMS[0], CLAIMS[1], namespace, claim))
            if obj is None or (obj.get("status") or {}).get("phase") != "Bound":
                unbound.append(claim)
        return unbound

    def has_consumer(self, namespace: str, claim: str) -> bool:
        for key in self._consumers.get((namespace, claim), ()):
            pod = self.store.get(key)
            if pod is not None and not is_finished(pod):
                return True
        return False

    def missing_config(
        self, pod_key: Key, pod: dict[str, Any]
    ) -> tuple[str, str, bool] | None:
        """Return the first missing ConfigMap or Secret a pod needs, and wait for it."""
        for kind, name, in_env in pods.config_references(pod):
            type_key = CONFIGMAPS if kind == "ConfigMap" else SECRETS
            if self.store.get((type_key[0], type_key[1], pod_key[2], name)) is None:
                self._waiters.setdefault((kind, pod_key[2], name), set()).add(pod_key)
                return kind, name, in_env
        return None

    def default_storage_class(self) -> str | None:
        return storage.default_storage_class(self.store)

    def cluster_resources(self) -> kmock.ResourcesArray:
        """Return kmock's resource array, which CRDs extend."""
        return self.resources

    def wait_for_storage_class(self, claim_key: Key, class_name: str) -> None:
        self._waiters.setdefault(("StorageClass", None, class_name), set()).add(
            claim_key
        )

    def owned(
        self, owner: dict[str, Any], type_key: TypeKey
    ) -> list[tuple[Key, dict[str, Any]]]:
        """Return the live objects of one type whose ownerReferences name `owner`."""
        result = []
        for key in self.store.dependents(owner["metadata"]["uid"]):
            if (key[0], key[1]) != type_key:
                continue
            obj = self.store.get(key)
            if obj is not None and not obj["metadata"].get("deletionTimestamp"):
                result.append((key, obj))
        return result

    # Writes done as the control plane; they are not logged as client writes.

    def create(self, type_key: TypeKey, obj: dict[str, Any]) -> dict[str, Any]:
        rt = self.registry.storage_type(*type_key)
        assert rt is not None, type_key
        stored, _ = self.cluster.save(rt, obj, None)
        return stored

    def update_object(
        self, key: Key, old: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any]:
        rt = self.cluster.type_of(key)
        assert rt is not None, key
        new = dict(new, metadata=dict(new["metadata"]))
        stored, _ = self.cluster.save(rt, new, old)
        return stored

    def write_status(
        self, key: Key, obj: dict[str, Any], status: dict[str, Any]
    ) -> dict[str, Any]:
        if obj.get("status") == status:
            return obj
        return self.update_object(key, obj, dict(obj, status=status))

    def delete(self, key: Key) -> None:
        self.cluster.delete(key, "Background")

    def record_event(
        self,
        obj: dict[str, Any],
        kind: str,
        reason: str,
        message: str,
        warning: bool = False,
    ) -> None:
        """Create a core/v1 Event about an object, once per object, reason and message."""
        meta = obj["metadata"]
        marker = (meta.get("uid", ""), reason, message)
        if marker in self._events_recorded:
            return
        self._events_recorded.add(marker)
        namespace = meta.get("namespace") or "default"
        now = self.timestamp()
        self.create(
            EVENTS,
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {
                    "name": f"{meta['name']}.{pods.random_suffix(10)}",
                    "namespace": namespace,
                },
                "involvedObject": {
                    "apiVersion": obj.get("apiVersion"),
                    "kind": kind,
                    "name": meta["name"],
                    "namespace": meta.get("namespace"),
                    "uid": meta.get("uid"),
                },
                "reason": reason,
                "message": message,
                "type": "Warning" if warning else "Normal",
                "source": {"component": "emulator-controller"},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            },
        )

    def report(
        self, key: Key, obj: dict[str, Any], ready: bool, *, failed: bool = False
    ) -> None:
        """Log `ready`, `unready` or `failed` when an object's readiness changes."""
        previous = self._ready.get(key)
        state = "failed" if failed else ready
        if previous == state:
            return
        self._ready[key] = state
        if failed:
            event = "failed"
        elif ready:
            event = "ready"
        elif previous is True:
            event = "unready"
        else:
            return
        self.event_log.add(
            event,
            kind=obj.get("kind"),
            apiVersion=obj.get("apiVersion"),
            namespace=key[2],
            name=key[3],
        )
