"""The labels every rendered object carries and the selector of a component's pods."""

from __future__ import annotations

from oam.model import Application, Component

NAME = "app.kubernetes.io/name"
INSTANCE = "app.kubernetes.io/instance"
VERSION = "app.kubernetes.io/version"
MANAGED_BY = "app.kubernetes.io/managed-by"
PART_OF = "app.kubernetes.io/part-of"
MANAGER = "oamflow"

RESERVED = (NAME, INSTANCE, VERSION, MANAGED_BY, PART_OF)


def common_labels(application: Application, component: Component) -> dict[str, str]:
    """The recommended labels, naming the component, application, version and project."""
    return {
        NAME: component.name,
        INSTANCE: application.name,
        VERSION: application.version,
        MANAGED_BY: MANAGER,
        PART_OF: application.project or application.name,
    }


def selector_labels(application: Application, component: Component) -> dict[str, str]:
    """Labels that select exactly this component's pods.

    The version is left out on purpose: a selector of a Deployment or StatefulSet
    cannot change after creation, and the version changes with every release.
    """
    return {NAME: component.name, INSTANCE: application.name}


def object_labels(application: Application, component: Component) -> dict[str, str]:
    """Common labels plus the component's own `properties.labels`."""
    return {**component.properties.labels, **common_labels(application, component)}
