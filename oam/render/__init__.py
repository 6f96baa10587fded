"""Rendering: each component of a request becomes Kubernetes manifests (plain dicts).

Rendering is pure and deterministic, because the deployment workflow renders the
manifests itself (from the request in its input) rather than carrying them in its
history.
"""

from __future__ import annotations

from oam.model import Application
from oam.render.objects import Manifest, render_component

__all__ = ["Manifest", "render_application", "render_component", "object_key"]


def object_key(manifest: Manifest) -> tuple[str, str, str]:
    """(kind, namespace or "", name): what identifies an object inside one deployment."""
    metadata = manifest.get("metadata") or {}
    return (
        str(manifest.get("kind")),
        str(metadata.get("namespace") or ""),
        str(metadata.get("name")),
    )


def render_application(application: Application) -> dict[str, list[Manifest]]:
    """Manifests per component name, in the request's component order."""
    return {
        component.name: render_component(application, component)
        for component in application.components
    }
