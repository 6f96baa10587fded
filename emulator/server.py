"""`Emulator`: kmock's `KubernetesEmulator` extended into a small, believable cluster.

kmock 0.8 provides the handler base, request recording, user-defined reactions
(`emulator['get /path'] << payload`), the resource array for discovery and the
object array. Its built-in Kubernetes handlers scan every object per request and
lack most API semantics, so the emulator drops them and serves the Kubernetes API
itself (`emulator.api`). User-defined reactions still take precedence. Requests
are parsed by `emulator.routing` because kmock's parser fails on some core paths.
Only the last `config.request_history` requests are kept.

Components, all sharing one event loop and no locks (mutations never await):

* `registry` (served types), `store` (objects, in kmock's `objects` array),
  `cluster` (metadata and deletion), `allocator` (Service IPs and node ports);
* `api` (the Kubernetes API), `control` (the `/_emulator/` API);
* `controller` (the emulated control plane), `faults`, `event_log`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import dataclasses
from types import TracebackType

import aiohttp.web
import attrs
import kmock

from emulator import pods, storage
from emulator.api import ConnectionDropped, KubernetesApi, error_response
from emulator.cluster import Cluster
from emulator.config import EmulatorConfig
from emulator.control import PREFIX, ControlApi
from emulator.controller import Controller
from emulator.defaults import ServiceAllocator
from emulator.errors import ApiError
from emulator.eventlog import EventLog
from emulator.faults import FaultInjector
from emulator.logs import get_logger
from emulator.resources import ResourceRegistry, bundled_discovery
from emulator.routing import build_request, parse_api_path
from emulator.store import ObjectStore
from emulator.writes import Writes

log = get_logger(__name__)

INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@attrs.define(kw_only=True)
class Emulator(kmock.KubernetesEmulator):
    """A Kubernetes API server with an emulated one-node control plane.

    Use `emulator.serve()` to run it on a port. `objects` contains the stored
    objects, keyed by storage-version resource, namespace and name. Each object's
    history contains only its current version.
    """

    config: EmulatorConfig = attrs.field(factory=EmulatorConfig)

    registry: ResourceRegistry = attrs.field(init=False)
    store: ObjectStore = attrs.field(init=False)
    cluster: Cluster = attrs.field(init=False)
    event_log: EventLog = attrs.field(init=False)
    allocator: ServiceAllocator = attrs.field(init=False)
    faults: FaultInjector = attrs.field(init=False)
    controller: Controller = attrs.field(init=False)
    api: KubernetesApi = attrs.field(init=False)
    control: ControlApi = attrs.field(init=False)
    _initial_config: EmulatorConfig = attrs.field(init=False)
    _controller_task: asyncio.Task[None] | None = attrs.field(default=None, init=False)
    _url: str | None = attrs.field(default=None, init=False)
    _request_count: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # kmock's fallback reactions implement the semantics replaced here.
        self._payloads.clear()
        self._requests = collections.deque(maxlen=self.config.request_history)  # type: ignore[assignment]
        self._initial_config = copy.deepcopy(self.config)

        self.registry = ResourceRegistry()
        self.event_log = EventLog(self.config.log_size)
        self.store = ObjectStore(self.objects, self.config.watch_history)
        self.allocator = ServiceAllocator()
        self.store.add_listener(self.allocator.observe)
        self.cluster = Cluster(self.registry, self.store, self.event_log)
        self.faults = FaultInjector()
        self.controller = Controller(
            cluster=self.cluster,
            config=self.config,
            event_log=self.event_log,
            resources=self.resources,
            on_crd_change=lambda: None,
        )
        self.api = KubernetesApi(
            registry=self.registry,
            store=self.store,
            writes=Writes(self.cluster, self.allocator),
            faults=self.faults,
            event_log=self.event_log,
            settle=self.controller.drain,
        )
        self.control = ControlApi(self)
        self.reset()

    @property
    def url(self) -> str:  # type: ignore[override]
        """The base URL, without a trailing slash, once `serve()` has started the server."""
        if self._url is None:
            raise RuntimeError(
                "the emulator is not serving yet; start it with emulator.serve()"
            )
        return self._url

    def reset(self) -> None:
        """Return to the initial state: objects, log, rules, faults and config."""
        self.store.clear()
        self.event_log.clear()
        self.faults.clear()
        self.controller.clear()
        self.allocator.clear()
        for field in dataclasses.fields(self.config):
            setattr(self.config, field.name, getattr(self._initial_config, field.name))

        self.resources.clear()
        self.resources.load_data(bundled_discovery())
        self.registry.clear()
        self.registry.load_kmock(self.resources)
        self._seed()
        self.controller.drain()

    def _seed(self) -> None:
        """Create the objects that a fresh cluster has."""
        namespaces = self.registry.storage_type("", "namespaces")
        assert namespaces is not None
        for name in INITIAL_NAMESPACES:
            self.cluster.save(
                namespaces,
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {
                        "name": name,
                        "labels": {"kubernetes.io/metadata.name": name},
                    },
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                },
                None,
            )
        nodes = self.registry.storage_type("", "nodes")
        classes = self.registry.storage_type("storage.k8s.io", "storageclasses")
        services = self.registry.storage_type("", "services")
        assert nodes is not None
        assert classes is not None
        assert services is not None
        self.cluster.save(nodes, pods.node_object(), None)
        for storage_class in storage.initial_storage_classes():
            self.cluster.save(classes, storage_class, None)
        self.cluster.save(
            services,
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": "kubernetes",
                    "namespace": "default",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "type": "ClusterIP",
                    "clusterIP": "10.96.0.1",
                    "clusterIPs": ["10.96.0.1"],
                    "ports": [
                        {
                            "name": "https",
                            "port": 443,
                            "protocol": "TCP",
                            "targetPort": 6443,
                        }
                    ],
                    "sessionAffinity": "None",
                    "ipFamilies": ["IPv4"],
                    "ipFamilyPolicy": "SingleStack",
                    "internalTrafficPolicy": "Cluster",
                },
                "status": {"loadBalancer": {}},
            },
            None,
        )

    async def __aenter__(self) -> Emulator:
        await super().__aenter__()
        self._controller_task = asyncio.create_task(
            self.controller.run(), name="emulator-controller"
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._controller_task is not None:
            self._controller_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._controller_task
            self._controller_task = None
        self.store.close_watches()
        await super().__aexit__(exc_type, exc_value, traceback)

    async def __call__(
        self, raw: aiohttp.web.BaseRequest
    ) -> aiohttp.web.StreamResponse:
        """Serve one HTTP request; the entry point for aiohttp's low-level server."""
        if raw.path.startswith(PREFIX):
            return await self.control.handle(raw)
        try:
            request, _ = await build_request(raw, self._request_count)
        except ApiError as error:
            return error_response(error)
        self._request_count += 1
        self._requests.append(request)
        try:
            return await self._handle(request)
        except ConnectionDropped:
            if raw.transport is not None:
                raw.transport.abort()
            return aiohttp.web.Response(status=503)
        except Exception as error:
            log.exception("failed to serve %s %s", raw.method, raw.path_qs)
            return error_response(ApiError(500, f"emulator failure: {error!r}"))

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if self._payloads:
            with contextlib.suppress(NotImplementedError):
                return await kmock.RawHandler._handle(self, request)
        raw = request._raw_request
        assert raw is not None
        path = parse_api_path(raw.path)
        try:
            return await self.api.serve(raw, request, path)
        except ApiError as error:
            return error_response(error)

    def set_url(self, url: str) -> None:
        self._url = url.rstrip("/")
