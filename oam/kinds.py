"""What oamflow knows about Kubernetes kinds: priority tier, apply order, scope.

Tiers decide which jobs of an execution may run together: every job of a tier is
ready before the next tier starts, so configuration, secrets and volumes exist
before the workloads that mount them, and workloads exist before the ingress that
routes to them. Inside a tier, jobs follow Helm's install order by kind.
"""

from __future__ import annotations

from enum import StrEnum


class Tier(StrEnum):
    HIGH = "High"
    NORMAL = "Normal"
    LOW = "Low"


TIER_ORDER = (Tier.HIGH, Tier.NORMAL, Tier.LOW)

_HIGH = {
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
}
_NORMAL = {"Service", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}

# Helm's install order (helm.sh/helm/v3 pkg/releaseutil/kind_sorter.go); kinds not
# listed sort after these, alphabetically.
INSTALL_ORDER = (
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
)
_INSTALL_RANK = {kind: rank for rank, kind in enumerate(INSTALL_ORDER)}

# Built-in kinds that are not namespaced. Anything else is treated as namespaced
# until API discovery on the cluster says otherwise.
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "PriorityClass",
        "IngressClass",
        "APIService",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "CSIDriver",
        "RuntimeClass",
    }
)


def tier_of(kind: str) -> Tier:
    """The tier of a kind: High for config and access, Normal for workloads, else Low."""
    if kind in _HIGH:
        return Tier.HIGH
    if kind in _NORMAL:
        return Tier.NORMAL
    return Tier.LOW


def install_rank(kind: str) -> tuple[int, str]:
    """A sort key that puts kinds in Helm's install order, unknown kinds last."""
    return (_INSTALL_RANK.get(kind, len(INSTALL_ORDER)), kind)


def is_namespaced(kind: str) -> bool:
    return kind not in CLUSTER_SCOPED
