"""The event log: what clients wrote and when objects became ready.

Tests use it to check ordering, for example that object B was applied only after
object A became ready. Entries get consecutive sequence numbers, so reading "all
entries after N" is a slice, not a search. The log keeps the newest `max_size`
entries.
"""

from __future__ import annotations

import collections
import itertools
import time
from typing import Any

# Keys of every entry; `None` where a key does not apply to the event.
ENTRY_KEYS = (
    "seq",
    "time",
    "event",
    "verb",
    "method",
    "kind",
    "apiVersion",
    "namespace",
    "name",
    "code",
    "changed",
    "fieldManager",
    "dryRun",
)


class EventLog:
    """A bounded, append-only list of event dicts numbered from 1."""

    def __init__(self, max_size: int) -> None:
        self._entries: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=max_size
        )
        self._next_seq = 1

    def clear(self) -> None:
        """Drop all entries; numbering continues so that old `since` values stay valid."""
        self._entries.clear()

    def add(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append an entry; fields not given are None."""
        entry: dict[str, Any] = dict.fromkeys(ENTRY_KEYS)
        entry.update(fields)
        entry["seq"] = self._next_seq
        entry["time"] = time.time()
        entry["event"] = event
        self._next_seq += 1
        self._entries.append(entry)
        return entry

    def since(self, seq: int) -> list[dict[str, Any]]:
        """Return the kept entries whose `seq` is greater than `seq`."""
        if not self._entries:
            return []
        first = self._entries[0]["seq"]
        start = max(0, seq - first + 1)
        return list(itertools.islice(self._entries, start, None))
