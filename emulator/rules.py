"""Readiness rules set through the control API: holds, per-object delays and image faults.

A rule names objects by kind, namespace and a name glob (`ObjectPattern`). A
hold keeps matching objects, and the pods they own, from becoming ready. A
delay replaces `readyDelay` for matching objects and their pods; the newest
matching delay wins. An image fault makes the containers of pods whose image
matches a glob fail to pull, crash or fail; the newest matching glob wins.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from typing import Any

IMAGE_FAULTS = ("pull", "crash", "fail")


@dataclasses.dataclass(frozen=True)
class ObjectPattern:
    """Matches objects by kind, namespace and name glob; None matches anything."""

    kind: str | None = None
    namespace: str | None = None
    name: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ObjectPattern:
        for field in ("kind", "namespace", "name"):
            if data.get(field) is not None and not isinstance(data[field], str):
                raise ValueError(
                    f"{field} must be a string or null, got {data[field]!r}"
                )
        return cls(data.get("kind"), data.get("namespace"), data.get("name"))

    def matches(self, kind: str, namespace: str | None, name: str) -> bool:
        if self.kind is not None and self.kind != kind:
            return False
        if self.namespace is not None and self.namespace != namespace:
            return False
        return self.name is None or fnmatch.fnmatchcase(name, self.name)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}


class ReadinessRules:
    """The holds, delays and image faults in force."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.holds: dict[str, ObjectPattern] = {}
        self.delays: list[tuple[ObjectPattern, float]] = []
        self.image_faults: dict[str, str] = {}

    def set_image_fault(self, image_glob: str, fault: str | None) -> None:
        """Set or (with None) remove the fault for images matching a glob."""
        if fault is None:
            self.image_faults.pop(image_glob, None)
        elif fault not in IMAGE_FAULTS:
            raise ValueError(
                f"fault must be one of {list(IMAGE_FAULTS)} or null, got {fault!r}"
            )
        else:
            self.image_faults[image_glob] = fault

    def delay_for(
        self,
        kind: str,
        namespace: str | None,
        name: str,
        owner: dict[str, Any] | None,
        default: float,
    ) -> float:
        """Return the ready delay of an object: its own rule, its owner's rule, else `default`."""
        for pattern, seconds in reversed(self.delays):
            if pattern.matches(kind, namespace, name):
                return seconds
        if owner is not None:
            for pattern, seconds in reversed(self.delays):
                if pattern.matches(
                    owner.get("kind", ""), namespace, owner.get("name", "")
                ):
                    return seconds
        return default

    def is_held(
        self, kind: str, namespace: str | None, name: str, owner: dict[str, Any] | None
    ) -> bool:
        """Return whether a hold matches an object or its controlling owner."""
        for pattern in self.holds.values():
            if pattern.matches(kind, namespace, name):
                return True
            if owner is not None and pattern.matches(
                owner.get("kind", ""), namespace, owner.get("name", "")
            ):
                return True
        return False

    def image_fault(self, image: str) -> str | None:
        for pattern, fault in reversed(list(self.image_faults.items())):
            if fnmatch.fnmatchcase(image, pattern):
                return fault
        return None
