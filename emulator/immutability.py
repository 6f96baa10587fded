"""Fields that an update may not change, per kind, as kube-apiserver enforces them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator.errors import FieldError
from emulator.quantities import parse_quantity

IMMUTABLE = "field is immutable"
IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"

# StatefulSet spec fields that an update may change.
STATEFULSET_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)
STATEFULSET_FORBIDDEN = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
    "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
    "'minReadySeconds' are forbidden"
)
CLAIM_FORBIDDEN = (
    "spec is immutable after creation except resources.requests and "
    "volumeAttributesClassName for bound claims"
)


def check(kind: str, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """Return the errors for fields of `old` that `new` changes but may not."""
    checker = _CHECKS.get(kind)
    return checker(new, old) if checker else []


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("spec") or {}


def _selector_immutable(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    if _spec(new).get("selector") != _spec(old).get("selector"):
        return [
            FieldError.invalid("spec.selector", _spec(new).get("selector"), IMMUTABLE)
        ]
    return []


def _stateful_set(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    def frozen(spec: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in spec.items() if k not in STATEFULSET_MUTABLE}

    if frozen(_spec(new)) != frozen(_spec(old)):
        return [FieldError.forbidden("spec", STATEFULSET_FORBIDDEN)]
    return []


def _job(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    errors = _selector_immutable(new, old)
    if _spec(new).get("template") != _spec(old).get("template"):
        errors.append(
            FieldError.invalid("spec.template", _spec(new).get("template"), IMMUTABLE)
        )
    return errors


def _service(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    old_ip = _spec(old).get("clusterIP")
    new_ip = _spec(new).get("clusterIP")
    changes_type = _spec(new).get("type") != _spec(old).get("type")
    if old_ip and new_ip != old_ip and not changes_type:
        return [FieldError.invalid("spec.clusterIP", new_ip, IMMUTABLE)]
    return []


def _claim(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    def frozen(spec: dict[str, Any]) -> dict[str, Any]:
        resources = dict(spec.get("resources") or {})
        resources.pop("requests", None)
        result = {
            k: v
            for k, v in spec.items()
            if k not in ("resources", "volumeAttributesClassName")
        }
        result["resources"] = resources
        # The binder sets volumeName after creation, so a client may omit it.
        if not spec.get("volumeName"):
            result.pop("volumeName", None)
        return result

    new_spec, old_spec = _spec(new), _spec(old)
    old_frozen = frozen(old_spec)
    if new_spec.get("volumeName") is None:
        old_frozen.pop("volumeName", None)
    if frozen(new_spec) != old_frozen:
        return [FieldError.forbidden("spec", CLAIM_FORBIDDEN)]
    new_size = ((new_spec.get("resources") or {}).get("requests") or {}).get("storage")
    old_size = ((old_spec.get("resources") or {}).get("requests") or {}).get("storage")
    try:
        shrinks = (
            new_size is not None
            and old_size is not None
            and (parse_quantity(new_size) < parse_quantity(old_size))
        )
    except ValueError:
        return [
            FieldError.invalid(
                "spec.resources.requests.storage",
                new_size,
                "must be a quantity such as 1Gi",
            )
        ]
    if shrinks:
        return [
            FieldError.forbidden(
                "spec.resources.requests.storage",
                "field can not be less than previous value",
            )
        ]
    return []


def _config_data(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    errors = []
    if old.get("kind") == "Secret" and new.get("type") != old.get("type"):
        errors.append(FieldError.invalid("type", new.get("type"), IMMUTABLE))
    if not old.get("immutable"):
        return errors
    if not new.get("immutable"):
        errors.append(FieldError.forbidden("immutable", IMMUTABLE_WHEN_SET))
    for section in ("data", "binaryData"):
        if (new.get(section) or {}) != (old.get(section) or {}):
            errors.append(FieldError.forbidden(section, IMMUTABLE_WHEN_SET))
    return errors


def _pod(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    def frozen(spec: dict[str, Any]) -> dict[str, Any]:
        result = {
            k: v
            for k, v in spec.items()
            if k not in ("activeDeadlineSeconds", "tolerations", "nodeName")
        }
        for section in ("containers", "initContainers"):
            result[section] = [
                {k: v for k, v in container.items() if k != "image"}
                for container in spec.get(section) or []
            ]
        return result

    if frozen(_spec(new)) != frozen(_spec(old)):
        return [
            FieldError.forbidden(
                "spec",
                "pod updates may not change fields other than container images, "
                "activeDeadlineSeconds and tolerations",
            )
        ]
    return []


def _crd(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    errors = []
    for field in ("group", "scope"):
        if _spec(new).get(field) != _spec(old).get(field):
            errors.append(
                FieldError.invalid(f"spec.{field}", _spec(new).get(field), IMMUTABLE)
            )
    return errors


_CHECKS: dict[str, Callable[[dict[str, Any], dict[str, Any]], list[FieldError]]] = {
    "Deployment": _selector_immutable,
    "ReplicaSet": _selector_immutable,
    "DaemonSet": _selector_immutable,
    "StatefulSet": _stateful_set,
    "Job": _job,
    "Service": _service,
    "PersistentVolumeClaim": _claim,
    "ConfigMap": _config_data,
    "Secret": _config_data,
    "Pod": _pod,
    "CustomResourceDefinition": _crd,
}
