"""The registry of served resource types: built-in kinds and CRD-defined kinds.

Built-in types come from kmock's bundled discovery data (taken from a K3s cluster),
minus the groups that K3s adds but kube-apiserver does not serve. Each
`ResourceType` describes one group/version/plural. Objects are stored once per
group and plural, under the storage version. A request for another served version
gets the same object with its `apiVersion` rewritten, without schema conversion.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import importlib.resources
import re
from collections.abc import Iterable, Iterator
from typing import Any

import kmock

# Groups in kmock's bundled K3s data that a plain kube-apiserver does not serve.
EXCLUDED_GROUPS = frozenset({"metrics.k8s.io", "gateway.networking.k8s.io"})

# Subresources that the emulator implements. Others are not advertised.
SERVED_SUBRESOURCES = frozenset({"status", "scale"})

DEFAULT_VERBS = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)

_VERSION_PATTERN = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


@functools.cache
def bundled_discovery() -> bytes:
    """Return kmock's bundled discovery data, decompressed once per process.

    `kmock.ResourcesArray.load_bundled` reads the same file with
    `importlib.resources.read_binary`, which is deprecated and warns on every
    call; the emulator reloads it on every reset.
    """
    compressed = (
        importlib.resources.files("kmock._internal")
        .joinpath("resources.json.gz")
        .read_bytes()
    )
    return gzip.decompress(compressed)


def version_priority(version: str) -> tuple[int, int, int]:
    """Return a sort key that orders versions as Kubernetes prefers them.

    GA versions come before beta, beta before alpha, and higher numbers first
    within each level. Versions that do not follow the `v1beta2` pattern go last.
    """
    match = _VERSION_PATTERN.match(version)
    if match is None:
        return (0, 0, 0)
    major, level, minor = match.groups()
    stability = {None: 3, "beta": 2, "alpha": 1}[level]
    return (stability, int(major), int(minor or 0))


@dataclasses.dataclass(frozen=True, eq=False)
class ResourceType:
    """One served group/version/resource with its discovery information.

    Instances compare by identity; use `type_key` to compare across versions.
    """

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str
    storage_version: str
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = DEFAULT_VERBS
    categories: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()
    crd_name: str | None = None  # the defining CRD, None for built-in types

    @property
    def type_key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage_api_version(self) -> str:
        if self.group:
            return f"{self.group}/{self.storage_version}"
        return self.storage_version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def has_status(self) -> bool:
        """Whether `status` is a subresource, so main writes must not change it."""
        return "status" in self.subresources

    def describe(self) -> dict[str, Any]:
        """Return the `APIResource` entries for this type and its subresources."""
        entries: list[dict[str, Any]] = [
            {
                "name": self.plural,
                "singularName": self.singular,
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": list(self.verbs),
            }
        ]
        if self.short_names:
            entries[0]["shortNames"] = list(self.short_names)
        if self.categories:
            entries[0]["categories"] = list(self.categories)
        for subresource in sorted(self.subresources):
            entry: dict[str, Any] = {
                "name": f"{self.plural}/{subresource}",
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": ["get", "patch", "update"],
            }
            if subresource == "scale":
                entry.update(kind="Scale", group="autoscaling", version="v1")
            entries.append(entry)
        return entries


class ResourceRegistry:
    """Index of served resource types by group/version/plural and by kind."""

    def __init__(self) -> None:
        self._by_resource: dict[tuple[str, str, str], ResourceType] = {}
        self._by_kind: dict[tuple[str, str, str], ResourceType] = {}
        self._storage: dict[tuple[str, str], ResourceType] = {}

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._by_resource.values()))

    def clear(self) -> None:
        self._by_resource.clear()
        self._by_kind.clear()
        self._storage.clear()

    def load_kmock(self, resources: kmock.ResourcesArray) -> None:
        """Register every resource of a kmock `ResourcesArray` except excluded groups."""
        versions_by_type: dict[tuple[str, str], list[str]] = {}
        entries: list[tuple[kmock.resource, kmock.ResourceInfo]] = []
        for resource in resources:
            group = resource.group or ""
            if group in EXCLUDED_GROUPS or resource.plural is None:
                continue
            assert resource.version is not None
            entries.append((resource, resources[resource]))
            versions_by_type.setdefault((group, resource.plural), []).append(
                resource.version
            )
        for resource, info in entries:
            group = resource.group or ""
            assert resource.version is not None and resource.plural is not None
            versions = versions_by_type[(group, resource.plural)]
            storage = max(versions, key=version_priority)
            self.register(
                ResourceType(
                    group=group,
                    version=resource.version,
                    plural=resource.plural,
                    kind=info.kind or resource.plural.capitalize(),
                    namespaced=bool(info.namespaced),
                    singular=info.singular or (info.kind or "").lower(),
                    storage_version=storage,
                    short_names=tuple(sorted(info.shortnames)),
                    verbs=tuple(sorted(info.verbs)) or DEFAULT_VERBS,
                    categories=tuple(sorted(info.categories)),
                    subresources=frozenset(info.subresources) & SERVED_SUBRESOURCES,
                )
            )

    def register(self, resource_type: ResourceType) -> None:
        rt = resource_type
        self._by_resource[(rt.group, rt.version, rt.plural)] = rt
        self._by_kind[(rt.group, rt.version, rt.kind)] = rt
        if rt.version == rt.storage_version:
            self._storage[rt.type_key] = rt

    def unregister(self, resource_types: Iterable[ResourceType]) -> None:
        for rt in resource_types:
            self._by_resource.pop((rt.group, rt.version, rt.plural), None)
            self._by_kind.pop((rt.group, rt.version, rt.kind), None)
            if self._storage.get(rt.type_key) is rt:
                del self._storage[rt.type_key]

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_resource.get((group, version, plural))

    def for_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        return self._by_kind.get((group, version, kind))

    def storage_type(self, group: str, plural: str) -> ResourceType | None:
        """Return the type under which objects of this group and plural are stored."""
        return self._storage.get((group, plural))

    def served_by_crd(self, crd_name: str) -> list[ResourceType]:
        return [rt for rt in self._by_resource.values() if rt.crd_name == crd_name]

    def group_versions(self) -> dict[str, list[str]]:
        """Return each group's served versions, preferred version first."""
        versions: dict[str, set[str]] = {}
        for group, version, _ in self._by_resource:
            versions.setdefault(group, set()).add(version)
        return {
            group: sorted(found, key=version_priority, reverse=True)
            for group, found in sorted(versions.items())
        }

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return sorted(
            (
                rt
                for (rt_group, rt_version, _), rt in self._by_resource.items()
                if rt_group == group and rt_version == version
            ),
            key=lambda rt: rt.plural,
        )


def crd_resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    """Build the resource types that a CustomResourceDefinition object defines."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    versions = [v for v in spec.get("versions") or [] if v.get("served", True)]
    storage = next(
        (v["name"] for v in spec.get("versions") or [] if v.get("storage")),
        versions[0]["name"] if versions else "v1",
    )
    kind = names.get("kind", "")
    result = []
    for version in versions:
        subresources = set((version.get("subresources") or {}).keys())
        result.append(
            ResourceType(
                group=spec.get("group", ""),
                version=version["name"],
                plural=names.get("plural", ""),
                kind=kind,
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                singular=names.get("singular") or kind.lower(),
                storage_version=storage,
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=frozenset(subresources) & SERVED_SUBRESOURCES,
                crd_name=crd["metadata"]["name"],
            )
        )
    return result
