"""Server-side apply and the `metadata.managedFields` bookkeeping of every write.

`apply` merges an applied configuration into the live object for one field
manager. It reports a 409 conflict when the applied value of a field differs from
the live value and another manager owns that field, unless the request forces
ownership. Fields that the manager applied before but omits now are removed,
unless another manager still owns them. `record_update` gives non-apply writes
(create, update, merge and JSON patches) an `Update` entry that owns the fields
the write changed, and takes those fields away from every other manager, as the
real server does. See `emulator.fieldsets` for how fields are named.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
from typing import Any

from emulator import fieldsets
from emulator.errors import ApiError
from emulator.fieldsets import Path


@dataclasses.dataclass
class ManagerEntry:
    """One `managedFields` entry with its field set decoded."""

    manager: str
    operation: str
    api_version: str
    time: str
    paths: set[Path]
    subresource: str | None = None

    @classmethod
    def parse(cls, entry: dict[str, Any]) -> ManagerEntry:
        return cls(
            manager=entry.get("manager", ""),
            operation=entry.get("operation", "Update"),
            api_version=entry.get("apiVersion", ""),
            time=entry.get("time", ""),
            paths=fieldsets.decode(entry.get("fieldsV1") or {}),
            subresource=entry.get("subresource") or None,
        )

    def render(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": fieldsets.encode(self.paths),
        }
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry

    def is_for(self, manager: str, operation: str, subresource: str | None) -> bool:
        return (
            self.manager == manager
            and self.operation == operation
            and self.subresource == subresource
        )


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_entries(obj: dict[str, Any] | None) -> list[ManagerEntry]:
    if not obj:
        return []
    return [
        ManagerEntry.parse(entry)
        for entry in obj["metadata"].get("managedFields") or []
    ]


def render_entries(entries: list[ManagerEntry]) -> list[dict[str, Any]] | None:
    rendered = [entry.render() for entry in entries if entry.paths]
    return rendered or None


def apply(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    *,
    manager: str,
    api_version: str,
    force: bool,
    subresource: str | None,
    has_status: bool,
) -> dict[str, Any]:
    """Merge an applied configuration into the live object for one field manager.

    Returns the merged object with updated `managedFields`. `live` is not
    modified. Raises a 409 `ApiError` listing every conflict when another
    manager owns a field whose value would change and `force` is false.
    """
    entries = parse_entries(live)
    applied_content = fieldsets.tracked_content(applied, subresource, has_status)
    # Document order matters: keyed list items are created in the order applied.
    ordered_paths = list(dict.fromkeys(fieldsets.leaf_paths(applied_content)))
    applied_paths = set(ordered_paths)
    live_content = fieldsets.tracked_content(live or {}, subresource, has_status)

    own = next((e for e in entries if e.is_for(manager, "Apply", subresource)), None)
    others = [e for e in entries if e is not own and e.subresource == subresource]
    conflicts = _find_conflicts(applied_content, live_content, applied_paths, others)
    if conflicts and not force:
        raise _conflict_error(conflicts)
    for entry in others:
        entry.paths -= {path for _, path in conflicts}

    result = copy.deepcopy(live) if live else {}
    for path in sorted(ordered_paths, key=len):
        found, value = fieldsets.get_path(applied_content, path)
        if found and not isinstance(path[-1], tuple):
            fieldsets.set_path(result, path, value)
        elif found:
            fieldsets.set_path(result, path, None)

    previous = own.paths if own else set()
    still_owned = set().union(*(entry.paths for entry in others)) if others else set()
    for path in sorted(previous - applied_paths, key=len, reverse=True):
        if not any(_is_within(owned, path) for owned in still_owned):
            fieldsets.remove_path(result, path)

    for field in ("apiVersion", "kind"):
        result[field] = applied.get(field, result.get(field))
    if own is None:
        own = ManagerEntry(
            manager, "Apply", api_version, now_rfc3339(), set(), subresource
        )
        entries.append(own)
    if own.paths != applied_paths or own.api_version != api_version:
        own.time = now_rfc3339()
    own.paths = applied_paths
    own.api_version = api_version
    result.setdefault("metadata", {})["managedFields"] = render_entries(entries)
    if result["metadata"]["managedFields"] is None:
        del result["metadata"]["managedFields"]
    return result


def _is_within(path: Path, prefix: Path) -> bool:
    return path[: len(prefix)] == prefix


def _find_conflicts(
    applied: dict[str, Any],
    live: dict[str, Any],
    applied_paths: set[Path],
    others: list[ManagerEntry],
) -> list[tuple[ManagerEntry, Path]]:
    conflicts = []
    for path in sorted(applied_paths, key=fieldsets.format_path):
        if isinstance(path[-1], tuple):
            continue  # owning a list item itself never conflicts, only its fields
        found, live_value = fieldsets.get_path(live, path)
        if not found:
            continue
        _, applied_value = fieldsets.get_path(applied, path)
        if live_value == applied_value:
            continue
        for entry in others:
            if path in entry.paths:
                conflicts.append((entry, path))
    return conflicts


def _conflict_error(conflicts: list[tuple[ManagerEntry, Path]]) -> ApiError:
    """Build the 409 that kube-apiserver returns for apply conflicts."""
    causes = []
    by_manager: dict[tuple[str, str], list[str]] = {}
    for entry, path in conflicts:
        field = fieldsets.format_path(path)
        owner = f'"{entry.manager}" using {entry.api_version}'
        causes.append(
            {
                "reason": "FieldManagerConflict",
                "message": f"conflict with {owner}",
                "field": field,
            }
        )
        by_manager.setdefault((entry.manager, entry.api_version), []).append(field)

    count = len(conflicts)
    if count == 1:
        entry, path = conflicts[0]
        message = (
            f'Apply failed with 1 conflict: conflict with "{entry.manager}" using '
            f"{entry.api_version}: {fieldsets.format_path(path)}"
        )
    else:
        groups = []
        for (manager, api_version), fields in by_manager.items():
            lines = "\n".join(f"- {field}" for field in fields)
            groups.append(f'conflicts with "{manager}" using {api_version}:\n{lines}')
        message = f"Apply failed with {count} conflicts: " + "\n".join(groups)
    return ApiError(409, message, details={"causes": causes})


def record_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    api_version: str,
    subresource: str | None,
    has_status: bool,
) -> None:
    """Update `new["metadata"]["managedFields"]` in place for a non-apply write.

    The manager's `Update` entry gains the fields this write added or changed,
    and every other manager loses them. Removed fields leave every entry.
    """
    entries = parse_entries(old)
    new_content = fieldsets.tracked_content(new, subresource, has_status)
    old_content = fieldsets.tracked_content(old or {}, subresource, has_status)
    new_paths = set(fieldsets.leaf_paths(new_content))
    old_paths = set(fieldsets.leaf_paths(old_content))

    changed = set()
    for path in new_paths:
        found, old_value = fieldsets.get_path(old_content, path)
        if not found or old_value != fieldsets.get_path(new_content, path)[1]:
            changed.add(path)
    removed = old_paths - new_paths

    for entry in entries:
        if entry.subresource == subresource:
            entry.paths -= changed | removed
    own = next((e for e in entries if e.is_for(manager, "Update", subresource)), None)
    if own is None and changed:
        own = ManagerEntry(
            manager, "Update", api_version, now_rfc3339(), set(), subresource
        )
        entries.append(own)
    if own is not None and changed:
        own.paths |= changed
        own.time = now_rfc3339()
        own.api_version = api_version

    rendered = render_entries(entries)
    if rendered is None:
        new["metadata"].pop("managedFields", None)
    else:
        new["metadata"]["managedFields"] = rendered
