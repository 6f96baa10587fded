"""Retries of transient Kubernetes API errors inside an activity, with backoff.

Network errors, 429 (honouring Retry-After), 5xx and optimistic-lock conflicts are
retried with exponential backoff and jitter, by the request's retry policy; every
retry is logged with the object and the attempt. Other errors are raised at once.
The activity heartbeats while it sleeps, so a long backoff never looks like a dead
worker, and a cancelled activity stops sleeping.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import CancelledError

from activities.kube import KubeError
from oam.model import RetryPolicy
from oam.units import parse_duration

T = TypeVar("T")
MAX_RETRY_AFTER = 300.0
# Seconds between heartbeats of one activity; more frequent calls are skipped.
# The SDK forwards at most one heartbeat per throttle interval to the server
# anyway, but every call costs a payload conversion and a call into the SDK core
# on the worker's event loop, the same loop that starts activities.
HEARTBEAT_EVERY = 1.0
_last_heartbeat = threading.local()


class Retrier:
    """Applies one retry policy to the API calls of one activity attempt."""

    def __init__(self, policy: RetryPolicy, context: dict[str, str]) -> None:
        self.attempts = policy.attempts
        self.initial = parse_duration(policy.initial_interval)
        self.maximum = max(self.initial, parse_duration(policy.max_interval))
        self.context = context

    def call(self, what: str, operation: Callable[[], T]) -> T:
        """Run `operation`; retry it on transient KubeError, re-raise anything else."""
        delay = self.initial
        attempt = 1
        while True:
            try:
                return operation()
            except KubeError as error:
                if not error.transient or attempt >= self.attempts:
                    if error.transient:
                        error.message = (
                            f"{error.message} (gave up after {attempt} attempts)"
                        )
                    raise
                wait = min(delay, self.maximum) * random.uniform(0.8, 1.2)
                if error.retry_after is not None:
                    wait = max(wait, min(error.retry_after, MAX_RETRY_AFTER))
                activity.logger.warning(
                    "%s failed with %s (attempt %d of %d); retrying in %.2fs",
                    what,
                    error.short(),
                    attempt,
                    self.attempts,
                    wait,
                    extra={**self.context, "attempt": attempt},
                )
                sleep(
                    wait, {"retrying": what, "attempt": attempt, "error": error.short()}
                )
                delay = min(delay * 2, self.maximum)
                attempt += 1


def heartbeat(details: dict) -> None:
    """Heartbeat, unless this activity attempt already did less than `HEARTBEAT_EVERY` ago."""
    token = activity.info().task_token
    now = time.monotonic()
    last = getattr(_last_heartbeat, "sent", None)
    if last is not None and last[0] == token and now - last[1] < HEARTBEAT_EVERY:
        return
    _last_heartbeat.sent = (token, now)
    activity.heartbeat(details)


def sleep(seconds: float, details: dict | None = None) -> None:
    """Sleep in a synchronous activity, heartbeating about every second; raise when cancelled."""
    remaining = seconds
    while remaining > 0:
        step = min(1.0, remaining)
        heartbeat(details or {})
        activity.wait_for_cancelled_sync(step)
        if activity.is_cancelled():
            raise_cancelled()
        remaining -= step
    heartbeat(details or {})


def raise_cancelled() -> None:
    raise CancelledError("the activity was cancelled")
