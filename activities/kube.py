"""A thin layer over the official `kubernetes` client for generic objects.

oamflow applies arbitrary manifests (built-in kinds and custom resources), so it
talks to the API by path rather than through the typed API classes: it resolves a
kind to its resource through API discovery, then sends requests with the client's
`ApiClient` (which carries the kubeconfig's TLS and authentication settings).

Errors become `KubeError` with the HTTP status, the server's reason and message,
and whether retrying can help. The client's own retries are switched off so that
every retry is oamflow's decision, logged with the object and attempt.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.parse
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

# Request timeouts in seconds: (connect, read).
REQUEST_TIMEOUT = (5.0, 30.0)
TRANSIENT_STATUSES = {429, 500, 502, 503, 504}

# Resources of common built-in kinds, so that most applies need no discovery request.
_BUILTIN: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "Service"): ("services", True),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "PersistentVolumeClaim"): ("persistentvolumeclaims", True),
    ("v1", "PersistentVolume"): ("persistentvolumes", False),
    ("v1", "Pod"): ("pods", True),
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "Endpoints"): ("endpoints", True),
    ("v1", "ResourceQuota"): ("resourcequotas", True),
    ("v1", "LimitRange"): ("limitranges", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("apps/v1", "StatefulSet"): ("statefulsets", True),
    ("apps/v1", "DaemonSet"): ("daemonsets", True),
    ("apps/v1", "ReplicaSet"): ("replicasets", True),
    ("batch/v1", "Job"): ("jobs", True),
    ("batch/v1", "CronJob"): ("cronjobs", True),
    ("networking.k8s.io/v1", "Ingress"): ("ingresses", True),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("networkpolicies", True),
    ("networking.k8s.io/v1", "IngressClass"): ("ingressclasses", False),
    ("rbac.authorization.k8s.io/v1", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("rolebindings", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ("clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): (
        "clusterrolebindings",
        False,
    ),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): (
        "customresourcedefinitions",
        False,
    ),
    ("storage.k8s.io/v1", "StorageClass"): ("storageclasses", False),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): ("horizontalpodautoscalers", True),
    ("policy/v1", "PodDisruptionBudget"): ("poddisruptionbudgets", True),
}


class KubeError(Exception):
    """A failed API request: HTTP status (0 when no response arrived) and the server's words."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after
        self.details = details or {}

    @property
    def transient(self) -> bool:
        """Whether the same request may succeed later: network trouble, overload, a race."""
        if self.status == 0 or self.status in TRANSIENT_STATUSES:
            return True
        # An optimistic-lock conflict is a race worth retrying; an apply conflict with
        # another field manager is a disagreement that retrying cannot settle.
        return (
            self.status == 409
            and not self.is_field_conflict
            and "already exists" not in self.message
        )

    @property
    def is_field_conflict(self) -> bool:
        return self.status == 409 and self.message.startswith("Apply failed")

    def short(self) -> str:
        if self.status == 0:
            return f"connection error ({self.message})"
        return f"HTTP {self.status} {self.reason}: {self.message}"


@dataclass(frozen=True)
class Resource:
    group_version: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None, name: str | None = None) -> str:
        base = (
            "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        )
        if self.namespaced and namespace:
            base += f"/namespaces/{urllib.parse.quote(namespace)}"
        base += f"/{self.plural}"
        if name:
            base += f"/{urllib.parse.quote(name)}"
        return base


class KubeClient:
    """Generic object access over one `ApiClient`; safe to share between threads."""

    def __init__(self, api_client: k8s_client.ApiClient) -> None:
        self.api_client = api_client
        self.host = api_client.configuration.host
        self._discovered: dict[str, dict[str, Resource]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_environment(
        cls, kubeconfig: str | None = None, max_connections: int = 64
    ) -> KubeClient:
        """Load `kubeconfig`, else `KUBECONFIG` or ~/.kube/config, else the in-cluster config."""
        configuration = k8s_client.Configuration()
        path = kubeconfig or os.environ.get("KUBECONFIG")
        default_path = os.path.expanduser("~/.kube/config")
        try:
            if path or os.path.exists(default_path):
                k8s_config.load_kube_config(
                    config_file=path or default_path, client_configuration=configuration
                )
            else:
                k8s_config.load_incluster_config(client_configuration=configuration)
        except (ConfigException, OSError) as error:
            raise ConfigException(
                f"cannot load Kubernetes configuration from {path or default_path or 'the cluster'}: {error}"
            ) from error
        configuration.retries = urllib3.Retry(
            total=0, connect=0, read=0, redirect=0, status=0, raise_on_status=False
        )
        configuration.connection_pool_maxsize = max_connections
        return cls(k8s_client.ApiClient(configuration))

    # --- requests -------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> tuple[int, dict[str, Any]]:
        """Send one request; return (status, decoded body) or raise KubeError."""
        headers = {"Accept": "application/json", "Content-Type": content_type}
        _, url, headers, _, _ = self.api_client.param_serialize(
            method,
            path,
            query_params=query or [],
            header_params=headers,
            auth_settings=["BearerToken"],
        )
        try:
            response = self.api_client.call_api(
                method,
                url,
                header_params=headers,
                body=body,
                _request_timeout=REQUEST_TIMEOUT,
            )
            data = response.read()
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise KubeError(0, "ConnectionError", _connection_text(error)) from None
        status = response.status
        try:
            decoded = json.loads(data) if data else {}
        except ValueError:
            decoded = {"message": data[:500].decode("utf-8", "replace")}
        if not isinstance(decoded, dict):
            decoded = {"items": decoded}
        if 200 <= status < 300:
            return status, decoded
        raise KubeError(
            status,
            str(decoded.get("reason") or response.reason or ""),
            str(decoded.get("message") or response.reason or f"HTTP {status}"),
            retry_after=_retry_after(response.headers.get("Retry-After")),
            details=decoded.get("details")
            if isinstance(decoded.get("details"), dict)
            else None,
        )

    def apply(
        self, resource: Resource, manifest: dict[str, Any], field_manager: str
    ) -> tuple[int, dict[str, Any]]:
        metadata = manifest.get("metadata", {})
        path = resource.path(metadata.get("namespace"), metadata["name"])
        query = [("fieldManager", field_manager), ("force", "false")]
        return self.request(
            "PATCH",
            path,
            query=query,
            body=manifest,
            content_type="application/apply-patch+yaml",
        )

    def get(
        self, resource: Resource, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        try:
            return self.request("GET", resource.path(namespace, name))[1]
        except KubeError as error:
            if error.status == 404:
                return None
            raise

    def list(
        self, resource: Resource, namespace: str | None, label_selector: str
    ) -> list[dict[str, Any]]:
        _, body = self.request(
            "GET", resource.path(namespace), query=[("labelSelector", label_selector)]
        )
        return list(body.get("items") or [])

    def delete(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        uid: str | None,
        propagation: str = "Background",
    ) -> dict[str, Any]:
        options: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "propagationPolicy": propagation,
        }
        if uid:
            options["preconditions"] = {"uid": uid}
        return self.request("DELETE", resource.path(namespace, name), body=options)[1]

    def server_version(self) -> dict[str, Any]:
        return self.request("GET", "/version")[1]

    # --- discovery ------------------------------------------------------------------

    def resolve(self, api_version: str, kind: str) -> Resource:
        """The resource serving a kind, from the built-in table or API discovery.

        Raises KubeError 404 when the cluster does not serve the kind; a group version
        that was discovered before but lacks the kind is discovered again once, so a
        CRD established by another worker is picked up.
        """
        builtin = _BUILTIN.get((api_version, kind))
        if builtin is not None:
            return Resource(api_version, builtin[0], builtin[1])
        with self._lock:
            known = self._discovered.get(api_version)
        if known is None or kind not in known:
            known = self._discover(api_version)
        if kind not in known:
            raise KubeError(
                404,
                "NotFound",
                f"the cluster does not serve kind {kind} in {api_version}"
                " (is its CustomResourceDefinition installed and established?)",
            )
        return known[kind]

    def forget(self, api_version: str) -> None:
        with self._lock:
            self._discovered.pop(api_version, None)

    def _discover(self, api_version: str) -> dict[str, Resource]:
        path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            _, body = self.request("GET", path)
        except KubeError as error:
            if error.status != 404:
                raise
            body = {"resources": []}
        found = {}
        for item in body.get("resources") or []:
            name = str(item.get("name", ""))
            if "/" in name or not item.get("kind"):
                continue  # subresources such as deployments/status
            found[str(item["kind"])] = Resource(
                api_version, name, bool(item.get("namespaced"))
            )
        with self._lock:
            self._discovered[api_version] = found
        return found


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from datetime import datetime

        moment = parsedate_to_datetime(value)
        return max(0.0, (moment - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _connection_text(error: Exception) -> str:
    reason = getattr(error, "reason", None)
    text = str(reason or error)
    return text[:300]
