"""The control API under `/_emulator/` and `ControlClient`, its synchronous client.

Tests and benchmarks use it to steer the emulated cluster: read the event log,
reset, change timing, hold objects unready, set per-object ready delays, make
images fail and inject API faults. It speaks JSON over plain HTTP, is not part
of API discovery and is never subject to injected faults.

Routes (request and response bodies are JSON):

* `GET /_emulator/log?since=SEQ` returns the entries with `seq > SEQ` (a list).
* `POST /_emulator/reset` restores the initial state.
* `GET|POST /_emulator/config` reads or changes
  `{"readyDelay", "progressDeadlineSeconds", "backoffDelay"}`.
* `GET|POST|DELETE /_emulator/holds`, `DELETE /_emulator/holds/ID`: a hold is
  `{"kind", "namespace", "name"}` (name is a glob); POST returns `{"id": ID}`.
* `GET|POST|DELETE /_emulator/delays`: `{"kind", "namespace", "name", "seconds"}`.
* `GET|POST /_emulator/images`: `{"image": GLOB, "fault": "pull"|"crash"|"fail"|null}`.
* `GET|POST|DELETE /_emulator/faults`: see `emulator.faults`.
* `GET /_emulator/objects?kind=K&namespace=NS&name=N` returns stored objects.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp.web

from emulator.logs import get_logger
from emulator.rules import ObjectPattern

if TYPE_CHECKING:
    from emulator.server import Emulator

log = get_logger(__name__)

PREFIX = "/_emulator/"


class ControlError(Exception):
    """A control API request that the emulator rejected or that failed."""


def _reply(body: Any, status: int = 200) -> aiohttp.web.Response:
    return aiohttp.web.Response(
        text=json.dumps(body), status=status, content_type="application/json"
    )


class ControlApi:
    """Serves `/_emulator/` requests against one emulator."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def handle(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        route = raw.path[len(PREFIX) :].strip("/")
        body: Any = None
        if raw.can_read_body:
            text = await raw.text()
            if text.strip():
                try:
                    body = json.loads(text)
                except ValueError as error:
                    return _reply(
                        {"error": f"request body is not valid JSON: {error}"}, 400
                    )
        handler = self._route(raw.method, route)
        if handler is None:
            return _reply({"error": f"no control route {raw.method} {raw.path}"}, 404)
        try:
            result = handler(body or {}, dict(raw.query))
        except (ValueError, TypeError, KeyError) as error:
            log.info("rejected control request %s %s: %s", raw.method, raw.path, error)
            return _reply({"error": str(error)}, 400)
        return _reply(result)

    def _route(
        self, method: str, route: str
    ) -> Callable[[Any, dict[str, str]], Any] | None:
        if route.startswith("holds/") and method == "DELETE":
            hold_id = route.split("/", 1)[1]
            return lambda body, query: self._release(hold_id)
        routes: dict[tuple[str, str], Callable[[Any, dict[str, str]], Any]] = {
            ("GET", "log"): self._log,
            ("POST", "reset"): self._reset,
            ("GET", "config"): lambda body, query: self.emulator.config.to_json(),
            ("POST", "config"): self._configure,
            ("GET", "holds"): self._holds,
            ("POST", "holds"): self._hold,
            ("DELETE", "holds"): lambda body, query: self._release(None),
            ("GET", "delays"): self._delays,
            ("POST", "delays"): self._delay,
            ("DELETE", "delays"): self._clear_delays,
            ("GET", "images"): lambda body, query: dict(
                self.emulator.controller.rules.image_faults
            ),
            ("POST", "images"): self._image,
            ("GET", "faults"): lambda body, query: self.emulator.faults.to_json(),
            ("POST", "faults"): self._faults,
            ("DELETE", "faults"): self._clear_faults,
            ("GET", "objects"): self._objects,
        }
        return routes.get((method, route))

    def _log(self, body: Any, query: dict[str, str]) -> list[dict[str, Any]]:
        return self.emulator.event_log.since(int(query.get("since", "0")))

    def _reset(self, body: Any, query: dict[str, str]) -> dict[str, Any]:
        self.emulator.reset()
        log.info("reset to the initial state")
        return {"status": "reset"}

    def _configure(self, body: Any, query: dict[str, str]) -> dict[str, Any]:
        self.emulator.config.update_from_json(body)
        return self.emulator.config.to_json()

    def _holds(self, body: Any, query: dict[str, str]) -> list[dict[str, Any]]:
        return [
            dict(pattern.to_json(), id=hold_id)
            for hold_id, pattern in self.emulator.controller.rules.holds.items()
        ]

    def _hold(self, body: Any, query: dict[str, str]) -> dict[str, Any]:
        hold_id = uuid.uuid4().hex[:12]
        self.emulator.controller.add_hold(hold_id, ObjectPattern.from_json(body))
        return {"id": hold_id}

    def _release(self, hold_id: str | None) -> dict[str, Any]:
        released = self.emulator.controller.release(hold_id)
        self.emulator.controller.drain()
        return {"released": released}

    def _delays(self, body: Any, query: dict[str, str]) -> list[dict[str, Any]]:
        return [
            dict(pattern.to_json(), seconds=seconds)
            for pattern, seconds in self.emulator.controller.rules.delays
        ]

    def _delay(self, body: Any, query: dict[str, str]) -> dict[str, Any]:
        seconds = body.get("seconds")
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or seconds < 0
        ):
            raise ValueError(f"seconds must be a non-negative number, got {seconds!r}")
        pattern = ObjectPattern.from_json(body)
        self.emulator.controller.rules.delays.append((pattern, float(seconds)))
        return dict(pattern.to_json(), seconds=float(seconds))

    def _clear_delays(self, body: Any, query: dict[str, str]) -> dict[str, Any]:
        self.emulator.controller.rules.delays.clear()
        return {"status": "cleared"}

    def _image(self, body: Any, query: dict[str, str]) -> dict[str, Any]:
        image = body.get("image")
        if not isinstance(image, str) or not image:
            raise ValueError(
                "image must be a non-empty glob such as 'registry.local/web:*'"
            )
        self.emulator.controller.set_image_fault(image, body.get("fault"))
        self.emulator.controller.drain()
        return dict(self.emulator.controller.rules.image_faults)

    def _faults(self, body: Any, query: dict[str, str]) -> dict[str, Any]:
        self.emulator.faults.configure(body)
        return self.emulator.faults.to_json()

    def _clear_faults(self, body: Any, query: dict[str, str]) -> dict[str, Any]:
        self.emulator.faults.clear()
        return self.emulator.faults.to_json()

    def _objects(self, body: Any, query: dict[str, str]) -> list[dict[str, Any]]:
        kind = query.get("kind")
        namespace = query.get("namespace")
        name = query.get("name")
        result = []
        store = self.emulator.store
        for type_key in store.type_keys():
            rt = self.emulator.registry.storage_type(*type_key)
            if rt is None or (kind is not None and rt.kind != kind):
                continue
            for key, obj in store.list_keyed(
                type_key, namespace if rt.namespaced else None
            ):
                if name is None or key[3] == name:
                    result.append(obj)
        return result


_UNSET: Any = object()


class ControlClient:
    """Synchronous client for the control API, using only the standard library.

    Every method raises `ControlError` when the emulator rejects the request or
    cannot be reached within `timeout` seconds.
    """

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(
        self,
        method: str,
        route: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
    ) -> Any:
        url = f"{self.url}{PREFIX}{route}"
        query = {
            key: value for key, value in (query or {}).items() if value is not None
        }
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            raise ControlError(
                f"{method} {url} failed with HTTP {error.code}: {detail}"
            ) from error
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise ControlError(f"{method} {url} failed: {error}") from error

    def log(self, since: int = 0) -> list[dict[str, Any]]:
        """Return the event log entries with `seq` greater than `since`."""
        return list(self._call("GET", "log", query={"since": since}))

    def writes(
        self,
        since: int = 0,
        *,
        kind: str | None = None,
        name: str | None = None,
        namespace: str | None = None,
        verb: str | None = None,
    ) -> list[dict[str, Any]]:
        """Return the logged client writes, optionally filtered by kind, name, namespace and verb."""
        return [
            entry
            for entry in self.log(since)
            if entry["event"] == "write"
            and (kind is None or entry["kind"] == kind)
            and (name is None or entry["name"] == name)
            and (namespace is None or entry["namespace"] == namespace)
            and (verb is None or entry["verb"] == verb)
        ]

    def wait_for_event(
        self,
        event: str,
        kind: str,
        name: str,
        *,
        namespace: str | None = None,
        since: int = 0,
        timeout: float = 30.0,
        interval: float = 0.05,
    ) -> dict[str, Any]:
        """Poll the log until an entry of `event` for the object appears; return it.

        Raises `ControlError` after `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            for entry in self.log(since):
                if (
                    entry["event"] == event
                    and entry["kind"] == kind
                    and entry["name"] == name
                    and (namespace is None or entry["namespace"] == namespace)
                ):
                    return entry
            if time.monotonic() > deadline:
                raise ControlError(
                    f"no {event!r} event for {kind} {namespace}/{name} within {timeout} s"
                )
            time.sleep(interval)

    def reset(self) -> None:
        self._call("POST", "reset")

    def config(self) -> dict[str, Any]:
        return dict(self._call("GET", "config"))

    def configure(
        self,
        *,
        ready_delay: float | None = None,
        progress_deadline_seconds: float | None = _UNSET,
        backoff_delay: float | None = None,
    ) -> dict[str, Any]:
        """Change timing settings; `progress_deadline_seconds=None` removes the override."""
        body: dict[str, Any] = {}
        if ready_delay is not None:
            body["readyDelay"] = ready_delay
        if backoff_delay is not None:
            body["backoffDelay"] = backoff_delay
        if progress_deadline_seconds is not _UNSET:
            body["progressDeadlineSeconds"] = progress_deadline_seconds
        return dict(self._call("POST", "config", body))

    def hold(
        self,
        kind: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
    ) -> str:
        """Keep matching objects unready until released; return the hold id."""
        return str(
            self._call(
                "POST", "holds", {"kind": kind, "namespace": namespace, "name": name}
            )["id"]
        )

    def release(self, hold_id: str | None = None) -> bool:
        """Release one hold, or all holds when `hold_id` is None."""
        route = "holds" if hold_id is None else f"holds/{hold_id}"
        return bool(self._call("DELETE", route)["released"])

    def holds(self) -> list[dict[str, Any]]:
        """Return the holds in force, each with its `id`."""
        return list(self._call("GET", "holds"))

    def delays(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "delays"))

    def image_faults(self) -> dict[str, str]:
        return dict(self._call("GET", "images"))

    def set_delay(
        self,
        kind: str | None,
        name: str | None,
        seconds: float,
        namespace: str | None = None,
    ) -> None:
        self._call(
            "POST",
            "delays",
            {"kind": kind, "namespace": namespace, "name": name, "seconds": seconds},
        )

    def clear_delays(self) -> None:
        self._call("DELETE", "delays")

    def set_image_fault(self, image: str, fault: str | None) -> dict[str, str]:
        """Make pods with images matching a glob fail ("pull", "crash", "fail"), or heal them (None)."""
        return dict(self._call("POST", "images", {"image": image, "fault": fault}))

    def inject_faults(
        self,
        *,
        rate: float = 0.0,
        statuses: list[int] | None = None,
        drop_rate: float = 0.0,
        too_many_requests_rate: float = 0.0,
        retry_after: int = 1,
        reads: bool = False,
        seed: int | None = None,
        rules: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "rate": rate,
            "dropRate": drop_rate,
            "tooManyRequestsRate": too_many_requests_rate,
            "retryAfter": retry_after,
            "reads": reads,
            "seed": seed,
            "rules": rules or [],
        }
        if statuses is not None:
            body["statuses"] = statuses
        return dict(self._call("POST", "faults", body))

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def objects(
        self,
        kind: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
    ) -> list[dict[str, Any]]:
        return list(
            self._call(
                "GET",
                "objects",
                query={"kind": kind, "namespace": namespace, "name": name},
            )
        )
