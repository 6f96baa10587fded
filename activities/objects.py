"""The Kubernetes activities: preflight, apply, wait until ready, delete.

They are synchronous (the official client is synchronous) and run in the worker's
thread pool. Every API call goes through a `Retrier`, so transient errors are
retried by the request's policy. Any other failure ends the activity with a
non-retryable `ApplicationError`, whose message names the object, the reason and,
where there is one, what to do. Temporal retries an activity only when its worker
stopped heartbeating, which is why waits heartbeat at least every second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError, CancelledError

from activities import diagnostics, drift, readiness
from activities.kube import KubeClient, KubeError, Resource
from activities.retrying import Retrier, heartbeat, sleep
from oam.render import labels
from oam.units import format_seconds
from workflows.types import (
    FIELD_MANAGER,
    ApplyInput,
    ApplyResult,
    DeleteInput,
    DeleteResult,
    PreflightInput,
    PreflightResult,
    WaitInput,
    WaitResult,
)

T = TypeVar("T")
PODS = Resource("v1", "pods", True)
STORAGE_CLASSES = Resource("storage.k8s.io/v1", "storageclasses", False)
NAMESPACES = Resource("v1", "namespaces", False)
DIAGNOSE_AFTER = 1.0
DIAGNOSE_EVERY = 2.0


def describe(kind: str, namespace: str | None, name: str) -> str:
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def failure(message: str, kind: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


def guarded(
    what: Callable[[Any, Any], str],
) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Turn errors escaping an activity into one non-retryable failure with a clear message."""

    def decorate(function: Callable[..., T]) -> Callable[..., T]:
        def run(self: Any, arguments: Any) -> T:
            subject = what(self, arguments)
            try:
                return function(self, arguments)
            except (ApplicationError, CancelledError):
                raise
            except KubeError as error:
                raise failure(
                    f"{subject}: {error.short()}", "KubernetesError"
                ) from None
            except Exception as error:
                activity.logger.exception("Unexpected error for %s", subject)
                raise failure(
                    f"{subject}: internal error: {type(error).__name__}: {error}",
                    "InternalError",
                ) from None

        run.__name__ = function.__name__
        run.__doc__ = function.__doc__
        run.__annotations__ = function.__annotations__
        return run

    return decorate


class KubernetesActivities:
    def __init__(self, kube: KubeClient, description: str | None = None) -> None:
        self.kube = kube
        self._description = description

    # --- preflight ------------------------------------------------------------------

    @activity.defn(name="preflight")
    @guarded(lambda self, arguments: f"preflight for namespace {arguments.namespace}")
    def preflight(self, arguments: PreflightInput) -> PreflightResult:
        """Check that the cluster responds, the namespace exists and every kind is served."""
        retrier = Retrier(arguments.retry, {"application": arguments.application})
        version = retrier.call("read the server version", self.kube.server_version)
        cluster, emulator = self.describe_cluster(version)
        activity.logger.info("Deploying %s to %s", arguments.application, cluster)

        namespace = retrier.call(
            f"read namespace {arguments.namespace}",
            lambda: self.kube.get(NAMESPACES, None, arguments.namespace),
        )
        if namespace is None:
            raise failure(
                f"namespace {arguments.namespace!r} does not exist on {cluster}; oamflow does not create"
                f" namespaces: create it (kubectl create namespace {arguments.namespace}) and deploy again",
                "NamespaceNotFound",
            )
        missing = []
        for api_version, kind in arguments.kinds:
            try:
                retrier.call(
                    f"discover {kind}",
                    lambda api_version=api_version, kind=kind: self.kube.resolve(
                        api_version, kind
                    ),
                )
            except KubeError as error:
                if error.status != 404:
                    raise
                missing.append(f"{kind} ({api_version})")
        if missing:
            raise failure(
                f"{cluster} does not serve {', '.join(missing)}; install the CustomResourceDefinitions"
                " first, or add them to the request as k8s-objects",
                "KindNotServed",
            )
        return PreflightResult(cluster=cluster, emulator=emulator)

    def describe_cluster(self, version: dict[str, Any]) -> tuple[str, bool]:
        git_version = str(version.get("gitVersion", "unknown version"))
        if "emulator" in git_version:
            return (
                f"local Kubernetes API emulator at {self.kube.host} (not a real cluster)",
                True,
            )
        return (
            self._description or f"Kubernetes {git_version} at {self.kube.host}",
            False,
        )

    # --- apply ----------------------------------------------------------------------

    @activity.defn(name="apply_object")
    @guarded(lambda self, arguments: _manifest_text(arguments.manifest))
    def apply_object(self, arguments: ApplyInput) -> ApplyResult:
        """Server-side apply one manifest and report whether it is already ready."""
        manifest = arguments.manifest
        subject = _manifest_text(manifest)
        retrier = Retrier(
            arguments.retry,
            {"application": arguments.application, "job": arguments.job_id},
        )
        resource = retrier.call(
            f"discover {manifest['kind']}",
            lambda: self.kube.resolve(manifest["apiVersion"], manifest["kind"]),
        )
        manifest = _scoped(manifest, resource)
        namespace = manifest["metadata"].get("namespace")
        name = manifest["metadata"]["name"]

        # Read first: an object of another oamflow application is never taken over,
        # and on a retry an object that still matches is not written again.
        live = retrier.call(
            f"read {subject}", lambda: self.kube.get(resource, namespace, name)
        )
        if live is not None:
            owner = _owner(live)
            if owner is not None and owner != arguments.application:
                raise failure(
                    f"{subject} belongs to oamflow application {owner!r} (its label {labels.INSTANCE});"
                    " oamflow does not take objects over from another application: rename the"
                    " component, or deploy to another namespace",
                    "OwnedByAnotherApplication",
                )
            if arguments.skip_if_unchanged and drift.matches(manifest, live):
                verdict = self._assess(live, retrier)
                activity.logger.info(
                    "%s is unchanged since the previous run; not applied again", subject
                )
                return _apply_result(
                    live, created=False, written=False, verdict=verdict, subject=subject
                )

        try:
            status, live = retrier.call(
                f"apply {subject}",
                lambda: self.kube.apply(resource, manifest, FIELD_MANAGER),
            )
        except KubeError as error:
            if error.is_field_conflict:
                raise failure(_conflict_text(subject, error), "FieldConflict") from None
            if (
                error.status == 422
                and manifest["kind"] == "Job"
                and "immutable" in error.message
            ):
                status, live = self._recreate_job(resource, manifest, retrier)
            elif error.status == 422:
                raise failure(
                    _invalid_text(subject, manifest, error), "Invalid"
                ) from None
            elif error.status == 404:
                raise failure(f"{subject}: {error.message}", "NotFound") from None
            else:
                raise
        verdict = self._assess(live, retrier)
        if manifest["kind"] == "CustomResourceDefinition" and verdict.ready:
            self._forget_crd_versions(live)
        if verdict.state == "failed":
            raise failure(f"{subject}: {verdict.message}", "NotReady")
        return _apply_result(
            live, created=status == 201, written=True, verdict=verdict, subject=subject
        )

    def _recreate_job(
        self, resource: Resource, manifest: dict[str, Any], retrier: Retrier
    ) -> tuple[int, dict[str, Any]]:
        # A Job's pod template cannot change; operators re-run it by deleting and
        # creating it again, which is what a changed Job in a request means.
        namespace = manifest["metadata"].get("namespace")
        name = manifest["metadata"]["name"]
        subject = describe("Job", namespace, name)
        activity.logger.info(
            "%s changed in a field Kubernetes does not update in place; recreating it",
            subject,
        )
        live = retrier.call(
            f"read {subject}", lambda: self.kube.get(resource, namespace, name)
        )
        if live is not None:
            uid = live["metadata"].get("uid")
            try:
                retrier.call(
                    f"delete {subject}",
                    lambda: self.kube.delete(resource, namespace, name, uid),
                )
            except KubeError as error:
                if error.status != 404:
                    raise
            deadline = time.monotonic() + 120
            while (
                retrier.call(
                    f"read {subject}", lambda: self.kube.get(resource, namespace, name)
                )
                is not None
            ):
                if time.monotonic() > deadline:
                    raise failure(
                        f"{subject}: the old Job was not deleted within 2m; delete it and retry",
                        "RecreateTimeout",
                    )
                sleep(0.5, {"recreating": subject})
        return retrier.call(
            f"apply {subject}",
            lambda: self.kube.apply(resource, manifest, FIELD_MANAGER),
        )

    # --- wait -----------------------------------------------------------------------

    @activity.defn(name="await_ready")
    @guarded(
        lambda self, arguments: describe(
            arguments.kind, arguments.namespace, arguments.name
        )
    )
    def await_ready(self, arguments: WaitInput) -> WaitResult:
        """Poll until the object is ready, failing fast on terminal and back-off states."""
        subject, retrier, resource = self._prepare(arguments)
        started = time.monotonic()
        first_seen: dict[str, float] = {}
        issues: list[diagnostics.PodIssue] = []
        last_diagnosis = 0.0
        # The first check comes soon, later ones less often: a wait for an object
        # that is ready within a second costs a few requests, not dozens.
        interval = 0.1

        while True:
            live = retrier.call(
                f"read {subject}",
                lambda: self.kube.get(resource, arguments.namespace, arguments.name),
            )
            if live is None:
                raise failure(
                    f"{subject} was deleted while oamflow waited for it to be ready",
                    "Deleted",
                )
            verdict = self._assess(live, retrier)
            if verdict.ready:
                if arguments.kind == "CustomResourceDefinition":
                    self._forget_crd_versions(live)
                return WaitResult(message=verdict.message)
            if verdict.state == "failed":
                raise failure(
                    self._with_issues(
                        f"{subject}: {verdict.message}", live, arguments, retrier
                    ),
                    "NotReady",
                )

            now = time.monotonic()
            if (
                arguments.kind in readiness.WORKLOAD_KINDS
                and now - started >= DIAGNOSE_AFTER
                and now - last_diagnosis >= DIAGNOSE_EVERY
            ):
                issues = self._pod_issues(live, arguments.namespace, retrier)
                last_diagnosis = now
                current = {issue.key for issue in issues}
                for key in list(first_seen):
                    if key not in current:
                        del first_seen[key]
                for issue in issues:
                    first_seen.setdefault(issue.key, now)
                    age = now - first_seen[issue.key]
                    if issue.fatal and age >= arguments.backoff_grace_seconds:
                        raise failure(
                            f"{subject} is not becoming ready: {issue.describe(arguments.namespace)}"
                            f" (for {format_seconds(round(age))})",
                            "PodBackOff",
                        )

            remaining = (arguments.deadline - datetime.now(UTC)).total_seconds()
            if remaining <= 0:
                reason = (
                    arguments.timeout_reason
                    or f"its timeout of {format_seconds(arguments.timeout_seconds)}"
                )
                summary = diagnostics.summarize(issues, arguments.namespace)
                raise failure(
                    f"{subject} was not ready within {reason}: {verdict.message}"
                    + (f"; {summary}" if summary else ""),
                    "ReadinessTimeout",
                )
            # The details show in `status` and in the UI's pending activities.
            details = {
                "waiting": verdict.message,
                "pods": diagnostics.summarize(issues, arguments.namespace),
            }
            heartbeat(details)
            sleep(min(interval, remaining), details)
            interval = min(interval * 1.5, arguments.poll_interval_seconds)

    def _pod_issues(
        self, live: dict[str, Any], namespace: str | None, retrier: Retrier
    ) -> list[diagnostics.PodIssue]:
        selector = diagnostics.pod_selector(live)
        if selector is None:
            return []
        pods = retrier.call(
            "list pods", lambda: self.kube.list(PODS, namespace, selector)
        )
        return diagnostics.pod_issues(pods)

    def _with_issues(
        self, text: str, live: dict[str, Any], arguments: WaitInput, retrier: Retrier
    ) -> str:
        if arguments.kind not in readiness.WORKLOAD_KINDS:
            return text
        summary = diagnostics.summarize(
            self._pod_issues(live, arguments.namespace, retrier), arguments.namespace
        )
        return f"{text}; {summary}" if summary else text

    # --- delete ---------------------------------------------------------------------

    @activity.defn(name="delete_object")
    @guarded(
        lambda self, arguments: describe(
            arguments.kind, arguments.namespace, arguments.name
        )
    )
    def delete_object(self, arguments: DeleteInput) -> DeleteResult:
        """Delete an object this deployment created, only if it is still the same object."""
        subject, retrier, resource = self._prepare(arguments)
        try:
            retrier.call(
                f"delete {subject}",
                lambda: self.kube.delete(
                    resource, arguments.namespace, arguments.name, arguments.uid
                ),
            )
        except KubeError as error:
            if error.status == 404:
                return DeleteResult(deleted=False, message="already gone")
            if error.status == 409:
                return DeleteResult(
                    deleted=False,
                    message="left alone: it was replaced by another object (uid changed)",
                )
            raise
        activity.logger.info("Deleted %s (failurePolicy cleanup)", subject)
        return DeleteResult(deleted=True, message="deleted")

    # --- helpers --------------------------------------------------------------------

    def _prepare(
        self, arguments: WaitInput | DeleteInput
    ) -> tuple[str, Retrier, Resource]:
        """The object's description, a retrier for its calls, and its resource."""
        subject = describe(arguments.kind, arguments.namespace, arguments.name)
        context = {"application": arguments.application, "job": arguments.job_id}
        retrier = Retrier(arguments.retry, context)
        resource = retrier.call(
            f"discover {arguments.kind}",
            lambda: self.kube.resolve(arguments.api_version, arguments.kind),
        )
        return subject, retrier, resource

    def _assess(self, live: dict[str, Any], retrier: Retrier) -> readiness.Verdict:
        mode = None
        if (
            live.get("kind") == "PersistentVolumeClaim"
            and (live.get("status") or {}).get("phase") != "Bound"
        ):
            mode = self._binding_mode(live, retrier)
        return readiness.evaluate(live, mode)

    def _binding_mode(self, claim: dict[str, Any], retrier: Retrier) -> str | None:
        class_name = (claim.get("spec") or {}).get("storageClassName")
        if class_name:
            found = retrier.call(
                f"read StorageClass {class_name}",
                lambda: self.kube.get(STORAGE_CLASSES, None, class_name),
            )
            return (found or {}).get("volumeBindingMode")
        classes = retrier.call(
            "list StorageClasses", lambda: self.kube.list(STORAGE_CLASSES, None, "")
        )
        for item in classes:
            annotations = (item.get("metadata") or {}).get("annotations") or {}
            if annotations.get("storageclass.kubernetes.io/is-default-class") == "true":
                return item.get("volumeBindingMode")
        return None

    def _forget_crd_versions(self, crd: dict[str, Any]) -> None:
        spec = crd.get("spec") or {}
        for version in spec.get("versions") or []:
            self.kube.forget(f"{spec.get('group')}/{version.get('name')}")


def _owner(live: dict[str, Any]) -> str | None:
    """The oamflow application that manages a live object, if oamflow manages it."""
    object_labels = (live.get("metadata") or {}).get("labels") or {}
    if object_labels.get(labels.MANAGED_BY) != labels.MANAGER:
        return None
    return object_labels.get(labels.INSTANCE)


def _manifest_text(manifest: dict[str, Any]) -> str:
    metadata = manifest.get("metadata") or {}
    return describe(
        str(manifest.get("kind")), metadata.get("namespace"), str(metadata.get("name"))
    )


def _scoped(manifest: dict[str, Any], resource: Resource) -> dict[str, Any]:
    """Drop the namespace of an object whose kind discovery reports as cluster-scoped."""
    if resource.namespaced or "namespace" not in manifest.get("metadata", {}):
        return manifest
    metadata = {
        key: value for key, value in manifest["metadata"].items() if key != "namespace"
    }
    return {**manifest, "metadata": metadata}


def _apply_result(
    live: dict[str, Any],
    *,
    created: bool,
    written: bool,
    verdict: readiness.Verdict,
    subject: str,
) -> ApplyResult:
    metadata = live.get("metadata") or {}
    return ApplyResult(
        created=created,
        changed=written,
        ready=verdict.ready,
        message=verdict.message,
        uid=metadata.get("uid"),
        resource_version=metadata.get("resourceVersion"),
        generation=metadata.get("generation"),
        namespace=metadata.get("namespace"),
    )


def _conflict_text(subject: str, error: KubeError) -> str:
    causes = error.details.get("causes") or []
    managers = sorted(
        {
            cause.get("message", "").split('"')[1]
            for cause in causes
            if '"' in cause.get("message", "")
        }
    )
    fields = [cause.get("field") for cause in causes if cause.get("field")]
    who = ", ".join(f'"{manager}"' for manager in managers) or "another field manager"
    where = ", ".join(fields[:5]) or "some fields"
    return (
        f"{subject}: server-side apply conflicts with field manager {who} on {where}."
        " oamflow does not take fields over by force: make the request agree with the live value,"
        " or have that manager release the fields, then retry"
    )


def _invalid_text(subject: str, manifest: dict[str, Any], error: KubeError) -> str:
    text = f"{subject}: the API server rejected it: {error.message}"
    if manifest["kind"] == "StatefulSet" and "Forbidden" in error.message:
        name = manifest["metadata"]["name"]
        namespace = manifest["metadata"].get("namespace", "default")
        text += (
            f". Kubernetes cannot change these StatefulSet fields in place: delete it while keeping its"
            f" pods and volumes (kubectl delete statefulset {name} -n {namespace} --cascade=orphan)"
            " and deploy again"
        )
    return text
