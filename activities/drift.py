"""Whether a live object still matches what oamflow applied (drift detection).

The live object carries everything the server adds (status, defaults, metadata),
so the check is one-sided: every value in the manifest must be present and equal
in the live object; extra live values are fine. Lists compare item by item. A
false "drifted" only costs a redundant, idempotent apply.
"""

from __future__ import annotations

from typing import Any


def matches(manifest: Any, live: Any) -> bool:
    if isinstance(manifest, dict):
        if not isinstance(live, dict):
            return False
        return all(
            key in live and matches(value, live[key]) for key, value in manifest.items()
        )
    if isinstance(manifest, list):
        if not isinstance(live, list) or len(manifest) != len(live):
            return False
        return all(
            matches(mine, theirs) for mine, theirs in zip(manifest, live, strict=True)
        )
    if isinstance(manifest, bool) or isinstance(live, bool):
        return manifest is live
    if isinstance(manifest, int | float) and isinstance(live, int | float):
        return manifest == live
    return manifest == live


def first_difference(manifest: Any, live: Any, path: str = "") -> str | None:
    """The path of the first manifest value the live object lacks or differs in."""
    if isinstance(manifest, dict):
        if not isinstance(live, dict):
            return path or "."
        for key, value in manifest.items():
            where = f"{path}.{key}" if path else key
            if key not in live:
                return where
            found = first_difference(value, live[key], where)
            if found:
                return found
        return None
    if isinstance(manifest, list):
        if not isinstance(live, list) or len(manifest) != len(live):
            return path
        for index, (mine, theirs) in enumerate(zip(manifest, live, strict=True)):
            found = first_difference(mine, theirs, f"{path}[{index}]")
            if found:
                return found
        return None
    return None if matches(manifest, live) else path
