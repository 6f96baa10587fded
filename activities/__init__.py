"""All Kubernetes I/O of oamflow: the activities the deployment workflow schedules."""

from activities.kube import KubeClient, KubeError
from activities.objects import KubernetesActivities


def activity_functions(activities: KubernetesActivities) -> list:
    """The bound activity methods to register on a worker."""
    return [
        activities.preflight,
        activities.apply_object,
        activities.await_ready,
        activities.delete_object,
    ]


__all__ = ["KubeClient", "KubeError", "KubernetesActivities", "activity_functions"]
