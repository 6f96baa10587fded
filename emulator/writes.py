"""The write verbs of the Kubernetes API: create, update, patch, apply and delete.

Each verb turns a request into a new object version, runs defaulting
(`emulator.defaults`) and validation (`emulator.admission`), records field
ownership (`emulator.applying`) and stores the result through
`emulator.cluster.Cluster`, unless the request is a dry run. Writes to the
`status` subresource change only `status`; writes to the main resource of a kind
with a status subresource keep the stored `status`.
"""

from __future__ import annotations

import copy
import dataclasses
import random
import string
import uuid
from typing import Any

from emulator import admission, applying, errors, patching, storage
from emulator.cluster import Cluster
from emulator.defaults import ServiceAllocator, apply_defaults
from emulator.errors import ApiError, bad_request
from emulator.resources import ResourceType
from emulator.routing import require_object

SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
)

APPLY_PATCH = "application/apply-patch"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@dataclasses.dataclass
class WriteRequest:
    """One write to one resource, with the query parameters that shape it."""

    rt: ResourceType  # the requested version
    storage: ResourceType  # the version objects are stored in
    namespace: str | None
    name: str | None
    subresource: str | None
    body: Any
    content_type: str
    params: dict[str, str]
    user_agent: str

    @property
    def dry_run(self) -> bool:
        value = self.params.get("dryRun")
        if value not in (None, "", "All"):
            raise bad_request(
                f'invalid dry run value "{value}": only "All" is supported'
            )
        return value == "All"

    @property
    def field_manager(self) -> str:
        """The `fieldManager` parameter, else the User-Agent up to its first '/'."""
        manager = self.params.get("fieldManager")
        if manager:
            return manager
        return (self.user_agent.split("/")[0] or "unknown")[:128]

    @property
    def force(self) -> bool:
        return self.params.get("force") in ("true", "1")


@dataclasses.dataclass
class WriteResult:
    code: int
    body: dict[str, Any]
    changed: bool
    verb: str
    obj: dict[str, Any] | None = None  # the stored object, when one remains


class Writes:
    """Implements the write verbs on top of a `Cluster`."""

    def __init__(self, cluster: Cluster, allocator: ServiceAllocator) -> None:
        self.cluster = cluster
        self.allocator = allocator

    # Helpers shared by the verbs.

    def existing(self, req: WriteRequest, name: str) -> dict[str, Any]:
        obj = self.cluster.get(req.storage, req.namespace, name)
        if obj is None:
            raise errors.not_found(req.rt.plural, req.rt.group, name)
        return obj

    def _require_namespace(self, req: WriteRequest) -> None:
        if not req.storage.namespaced or req.namespace is None:
            return
        namespaces = self.cluster.registry.storage_type("", "namespaces")
        assert namespaces is not None
        if self.cluster.get(namespaces, None, req.namespace) is None:
            raise errors.namespace_not_found(req.namespace)

    def _check_identity(self, req: WriteRequest, obj: dict[str, Any]) -> None:
        """Check apiVersion, kind, name and namespace of a body against the URL."""
        api_version = obj.get("apiVersion") or req.rt.api_version
        kind = obj.get("kind") or req.rt.kind
        if api_version != req.rt.api_version or kind != req.rt.kind:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({req.rt.api_version}), or the kind in the data ({kind}) "
                f"does not match the expected kind ({req.rt.kind})"
            )
        obj["apiVersion"], obj["kind"] = api_version, kind
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        elif not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if req.storage.namespaced:
            if meta.get("namespace") not in (None, "", req.namespace):
                raise bad_request(
                    "the namespace of the provided object does not match the namespace "
                    "sent on the request"
                )
            meta["namespace"] = req.namespace
        else:
            meta.pop("namespace", None)
        if req.name is not None:
            if meta.get("name") not in (None, "", req.name):
                raise bad_request(
                    f"the name of the object ({meta['name']}) does not match the name on "
                    f"the URL ({req.name})"
                )
            meta["name"] = req.name

    def _check_precondition(
        self, req: WriteRequest, obj: dict[str, Any], old: dict[str, Any]
    ) -> None:
        version = (obj.get("metadata") or {}).get("resourceVersion")
        if version and version != old["metadata"]["resourceVersion"]:
            raise errors.stale_resource_version(
                req.rt.plural, req.rt.group, old["metadata"]["name"]
            )

    def _admit_and_save(
        self,
        req: WriteRequest,
        new: dict[str, Any],
        old: dict[str, Any] | None,
        *,
        record_update: bool = True,
    ) -> tuple[dict[str, Any], bool]:
        """Default, record field ownership, validate and store a new object version.

        Ownership is recorded after defaulting because kube-apiserver defaults
        while decoding, so an updating manager owns the defaults it caused.
        Apply requests pass `record_update=False`; they record their own entry.
        """
        if req.subresource is None:
            apply_defaults(
                req.storage.kind,
                new,
                old,
                allocator=self.allocator,
                default_storage_class=self.default_storage_class(),
            )
        if record_update:
            applying.record_update(
                old,
                new,
                manager=req.field_manager,
                api_version=req.rt.api_version,
                subresource=req.subresource,
                has_status=req.storage.has_status,
            )
        if req.subresource is None:
            admission.validate(req.storage, new, old, self.allocator)
        return self.cluster.save(req.storage, new, old, dry_run=req.dry_run)

    def default_storage_class(self) -> str | None:
        return storage.default_storage_class(self.cluster.store)

    def _carry_server_metadata(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        meta = new.setdefault("metadata", {})
        for field in SERVER_METADATA:
            meta.pop(field, None)
            if field in old["metadata"]:
                meta[field] = copy.deepcopy(old["metadata"][field])

    def _respond(
        self,
        req: WriteRequest,
        obj: dict[str, Any],
        code: int,
        changed: bool,
        verb: str,
    ) -> WriteResult:
        return WriteResult(code, obj, changed, verb, obj)

    # Verbs.

    def create(self, req: WriteRequest) -> WriteResult:
        obj = copy.deepcopy(require_object(req.body))
        self._check_identity(req, obj)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(
                random.choices(string.ascii_lowercase + string.digits, k=5)
            )
            meta["name"] = meta["generateName"] + suffix
        for field in SERVER_METADATA:
            meta.pop(field, None)
        if req.storage.has_status:
            obj.pop("status", None)
        self._require_namespace(req)
        name = meta.get("name") or ""
        if name and self.cluster.get(req.storage, req.namespace, name) is not None:
            raise errors.already_exists(req.rt.plural, req.rt.group, name)
        meta["uid"] = str(uuid.uuid4())
        stored, _ = self._admit_and_save(req, obj, None)
        return self._respond(req, stored, 201, True, "create")

    def replace(self, req: WriteRequest) -> WriteResult:
        body = copy.deepcopy(require_object(req.body))
        self._check_identity(req, body)
        old = self.existing(req, body["metadata"]["name"])
        self._check_precondition(req, body, old)
        if req.subresource == "status":
            new = copy.deepcopy(old)
            new["status"] = body.get("status")
            if new["status"] is None:
                del new["status"]
        else:
            new = body
            self._carry_server_metadata(new, old)
            if req.storage.has_status:
                new.pop("status", None)
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
        return self._update(req, new, old, "status" if req.subresource else "update")

    def _update(
        self, req: WriteRequest, new: dict[str, Any], old: dict[str, Any], verb: str
    ) -> WriteResult:
        stored, changed = self._admit_and_save(req, new, old)
        return self._respond(req, stored, 200, changed, verb)

    def patch(self, req: WriteRequest) -> WriteResult:
        content_type = req.content_type
        if content_type.startswith(APPLY_PATCH):
            return self.apply(req)
        assert req.name is not None
        old = self.existing(req, req.name)
        if content_type == JSON_PATCH:
            patched = patching.json_patch(old, req.body)
        elif content_type == MERGE_PATCH:
            patched = patching.merge_patch(old, require_object(req.body))
        elif content_type == STRATEGIC_PATCH:
            if req.storage.crd_name is not None:
                raise ApiError(
                    415,
                    "strategic merge patch is not supported for custom resources; "
                    "use a merge patch or a JSON patch",
                )
            patched = patching.strategic_merge_patch(old, require_object(req.body))
        else:
            raise ApiError(
                415,
                f'the content type "{content_type}" is not supported for PATCH; use '
                f"{JSON_PATCH}, {MERGE_PATCH}, {STRATEGIC_PATCH} or {APPLY_PATCH}+yaml",
            )
        if not isinstance(patched, dict):
            raise ApiError(422, "the patch did not produce an object")
        self._check_precondition(req, patched, old)
        self._check_identity(req, patched)
        if req.subresource == "status":
            new = copy.deepcopy(old)
            if patched.get("status") is None:
                new.pop("status", None)
            else:
                new["status"] = patched["status"]
        else:
            new = patched
            self._carry_server_metadata(new, old)
            if req.storage.has_status:
                new.pop("status", None)
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
        return self._update(req, new, old, "status" if req.subresource else "patch")

    def apply(self, req: WriteRequest) -> WriteResult:
        if not req.params.get("fieldManager"):
            raise bad_request("fieldManager must be set for apply patch requests")
        applied = copy.deepcopy(require_object(req.body))
        if not applied.get("apiVersion") or not applied.get("kind"):
            raise bad_request(
                "apiVersion and kind must be set in an applied configuration"
            )
        self._check_identity(req, applied)
        assert req.name is not None
        old = self.cluster.get(req.storage, req.namespace, req.name)
        if old is None and req.subresource:
            raise errors.not_found(req.rt.plural, req.rt.group, req.name)
        if old is None:
            self._require_namespace(req)
        else:
            self._check_precondition(req, applied, old)
        if req.subresource is None and req.storage.has_status:
            applied.pop("status", None)

        merged = applying.apply(
            old,
            applied,
            manager=req.field_manager,
            api_version=req.rt.api_version,
            force=req.force,
            subresource=req.subresource,
            has_status=req.storage.has_status,
        )
        meta = merged.setdefault("metadata", {})
        meta["name"] = req.name
        if req.storage.namespaced:
            meta["namespace"] = req.namespace
        if old is None:
            meta["uid"] = str(uuid.uuid4())
            stored, changed = self._admit_and_save(
                req, merged, None, record_update=False
            )
            return self._respond(req, stored, 201, changed, "apply")
        managed = meta.get("managedFields")
        self._carry_server_metadata(merged, old)
        if managed is None:
            merged["metadata"].pop("managedFields", None)
        else:
            merged["metadata"]["managedFields"] = managed
        stored, changed = self._admit_and_save(req, merged, old, record_update=False)
        return self._respond(
            req, stored, 200, changed, "status" if req.subresource else "apply"
        )
