"""Fault injection for reliability tests of API clients.

Two mechanisms apply to Kubernetes resource requests (never to `/_emulator/`
and never to discovery or `/version`):

* One-shot rules fail exactly the next `times` requests that match
  `{verb, kind, namespace, name}`, with a given status code and message, or
  drop the connection. Each match value is a glob, and a missing key matches
  anything.
* Random faults hit write requests (and reads when `reads` is true): with
  probability `dropRate` the connection is closed without a response, with
  `tooManyRequestsRate` the response is 429 with a `Retry-After` header, and with
  `rate` it is one of `statuses` (500 or 503 by default). The draws come from a
  `random.Random` seeded with `seed`, so a seeded run of the same requests in the
  same order gets the same faults.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import random
from typing import Any

WRITE_VERBS = frozenset(
    {
        "create",
        "update",
        "patch",
        "apply",
        "delete",
        "deletecollection",
        "status",
        "scale",
    }
)


@dataclasses.dataclass
class FaultRule:
    """A one-shot rule: fail the next `times` matching requests."""

    match: dict[str, str]
    status: int = 500
    message: str = "injected fault"
    times: int = 1
    drop: bool = False
    retry_after: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultRule:
        match = data.get("match") or {}
        unknown = set(match) - {"verb", "kind", "namespace", "name"}
        if unknown:
            raise ValueError(
                f"unknown match keys: {sorted(unknown)}; use verb, kind, namespace and name"
            )
        status = data.get("status", 500)
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(
                f"status must be an HTTP error code from 400 to 599, got {status!r}"
            )
        times = data.get("times", 1)
        if not isinstance(times, int) or times < 1:
            raise ValueError(f"times must be a positive integer, got {times!r}")
        return cls(
            match={key: str(value) for key, value in match.items()},
            status=status,
            message=str(data.get("message") or f"injected fault: HTTP {status}"),
            times=times,
            drop=bool(data.get("drop", False)),
            retry_after=data.get("retryAfter"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "match": self.match,
            "status": self.status,
            "message": self.message,
            "times": self.times,
            "drop": self.drop,
            "retryAfter": self.retry_after,
        }

    def matches(self, request: dict[str, str | None]) -> bool:
        for key, pattern in self.match.items():
            value = request.get(key)
            if value is None or not fnmatch.fnmatchcase(value, pattern):
                return False
        return True


@dataclasses.dataclass(frozen=True)
class Fault:
    """The fault chosen for one request."""

    kind: str  # "status", "drop" or "throttle"
    status: int = 0
    message: str = ""
    retry_after: int | None = None


class FaultInjector:
    """Decides, request by request, whether to inject a fault."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.rate = 0.0
        self.statuses = [500, 503]
        self.drop_rate = 0.0
        self.throttle_rate = 0.0
        self.retry_after = 1
        self.reads = False
        self.seed: int | None = None
        self.rules: list[FaultRule] = []
        self._random = random.Random()

    def configure(self, data: dict[str, Any]) -> None:
        """Replace the configuration with a control API request body; raise ValueError if invalid."""
        known = {
            "rate",
            "statuses",
            "dropRate",
            "tooManyRequestsRate",
            "retryAfter",
            "reads",
            "seed",
            "rules",
        }
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        rates = {
            name: data.get(name, 0.0)
            for name in ("rate", "dropRate", "tooManyRequestsRate")
        }
        for name, value in rates.items():
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 <= value <= 1
            ):
                raise ValueError(f"{name} must be a number from 0 to 1, got {value!r}")
        if sum(rates.values()) > 1:
            raise ValueError("rate + dropRate + tooManyRequestsRate must not exceed 1")
        statuses = data.get("statuses", [500, 503])
        if not statuses or not all(
            isinstance(code, int) and 400 <= code <= 599 for code in statuses
        ):
            raise ValueError(
                f"statuses must be a non-empty list of HTTP error codes, got {statuses!r}"
            )
        rules = [FaultRule.from_json(rule) for rule in data.get("rules") or []]

        self.clear()
        self.rate = float(rates["rate"])
        self.drop_rate = float(rates["dropRate"])
        self.throttle_rate = float(rates["tooManyRequestsRate"])
        self.statuses = list(statuses)
        self.retry_after = int(data.get("retryAfter", 1))
        self.reads = bool(data.get("reads", False))
        self.seed = data.get("seed")
        self.rules = rules
        self._random = random.Random(self.seed)

    def to_json(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "statuses": self.statuses,
            "dropRate": self.drop_rate,
            "tooManyRequestsRate": self.throttle_rate,
            "retryAfter": self.retry_after,
            "reads": self.reads,
            "seed": self.seed,
            "rules": [rule.to_json() for rule in self.rules],
        }

    def decide(
        self, verb: str, kind: str, namespace: str | None, name: str | None
    ) -> Fault | None:
        """Return the fault for this request, or None to serve it normally."""
        request = {"verb": verb, "kind": kind, "namespace": namespace, "name": name}
        for rule in self.rules:
            if rule.matches(request):
                rule.times -= 1
                if rule.times <= 0:
                    self.rules.remove(rule)
                if rule.drop:
                    return Fault("drop", message=rule.message)
                return Fault("status", rule.status, rule.message, rule.retry_after)

        if verb not in WRITE_VERBS and not self.reads:
            return None
        if not (self.rate or self.drop_rate or self.throttle_rate):
            return None
        draw = self._random.random()
        if draw < self.drop_rate:
            return Fault("drop", message="injected fault: connection dropped")
        draw -= self.drop_rate
        if draw < self.throttle_rate:
            return Fault(
                "throttle",
                429,
                "injected fault: too many requests, retry later",
                self.retry_after,
            )
        draw -= self.throttle_rate
        if draw < self.rate:
            status = self._random.choice(self.statuses)
            return Fault("status", status, f"injected fault: HTTP {status}")
        return None
