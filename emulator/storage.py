"""PersistentVolumeClaims: binding through StorageClasses, as a dynamic provisioner does.

A claim binds after its ready delay to a new PersistentVolume named
`pvc-<claim uid>`, unless:

* it names a StorageClass that does not exist: it stays Pending with a
  `ProvisioningFailed` event, and is retried when that class is created;
* its class has `volumeBindingMode: WaitForFirstConsumer`: it stays Pending with
  a `WaitForFirstConsumer` event until a pod that mounts it exists;
* it has `storageClassName: ""`: it stays Pending, because only pre-created
  volumes could satisfy it and the emulator does not match those.

A bound claim whose requested size grows gets the new capacity at once.
Deleting a claim deletes its volume when the reclaim policy is `Delete`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.quantities import parse_quantity
from emulator.store import Key, ObjectStore

if TYPE_CHECKING:
    from emulator.controller import Controller

STORAGE_CLASSES = ("storage.k8s.io", "storageclasses")
VOLUMES = ("", "persistentvolumes")
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
PROVISIONER = "emulator.oamflow.local/hostpath"


def initial_storage_classes() -> list[dict[str, Any]]:
    """Return the StorageClasses of a fresh cluster: `standard` (default) and `wait-for-consumer`."""
    return [
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": "standard",
                "annotations": {DEFAULT_CLASS_ANNOTATION: "true"},
            },
            "provisioner": PROVISIONER,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
            "allowVolumeExpansion": True,
        },
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "wait-for-consumer"},
            "provisioner": PROVISIONER,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer",
            "allowVolumeExpansion": True,
        },
    ]


def default_storage_class(store: ObjectStore) -> str | None:
    """Return the StorageClass annotated as default, as the admission plugin picks it."""
    for obj in store.list(STORAGE_CLASSES):
        annotations = obj["metadata"].get("annotations") or {}
        if annotations.get(DEFAULT_CLASS_ANNOTATION) == "true":
            return str(obj["metadata"]["name"])
    return None


def _requested(claim: dict[str, Any]) -> str:
    return str(
        (((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}).get(
            "storage", "1Gi"
        )
    )


def reconcile_claim(ctl: Controller, key: Key, claim: dict[str, Any]) -> None:
    status = claim.get("status") or {}
    namespace, name = key[2] or "", key[3]
    if status.get("phase") == "Bound":
        _resize(ctl, key, claim)
        ctl.report(key, claim, True)
        return

    class_name = (claim.get("spec") or {}).get("storageClassName")
    if not class_name:
        return

    storage_class = ctl.store.get(
        (STORAGE_CLASSES[0], STORAGE_CLASSES[1], None, class_name)
    )
    if storage_class is None:
        ctl.wait_for_storage_class(key, class_name)
        ctl.record_event(
            claim,
            "PersistentVolumeClaim",
            "ProvisioningFailed",
            f'storageclass.storage.k8s.io "{class_name}" not found',
            warning=True,
        )
        return

    if storage_class.get(
        "volumeBindingMode"
    ) == "WaitForFirstConsumer" and not ctl.has_consumer(namespace, name):
        ctl.record_event(
            claim,
            "PersistentVolumeClaim",
            "WaitForFirstConsumer",
            "waiting for first consumer to be created before binding",
        )
        return

    if ctl.is_held(key, claim):
        return

    ready_at = ctl.ready_time(key, claim)
    if ctl.clock() < ready_at:
        ctl.wake_at(key, ready_at)
        return

    _bind(ctl, key, claim, storage_class)


def _bind(
    ctl: Controller, key: Key, claim: dict[str, Any], storage_class: dict[str, Any]
) -> None:
    spec = claim.get("spec") or {}
    volume_name = f"pvc-{claim['metadata']['uid']}"
    size = _requested(claim)
    access_modes = spec.get("accessModes") or ["ReadWriteOnce"]
    if ctl.store.get((VOLUMES[0], VOLUMES[1], None, volume_name)) is None:
        ctl.create(
            VOLUMES,
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {
                    "name": volume_name,
                    "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER},
                },
                "spec": {
                    "capacity": {"storage": size},
                    "accessModes": access_modes,
                    "persistentVolumeReclaimPolicy": storage_class.get(
                        "reclaimPolicy", "Delete"
                    ),
                    "storageClassName": storage_class["metadata"]["name"],
                    "volumeMode": spec.get("volumeMode", "Filesystem"),
                    "hostPath": {
                        "path": f"/var/lib/emulator/{volume_name}",
                        "type": "DirectoryOrCreate",
                    },
                    "claimRef": {
                        "apiVersion": "v1",
                        "kind": "PersistentVolumeClaim",
                        "name": key[3],
                        "namespace": key[2],
                        "uid": claim["metadata"]["uid"],
                    },
                },
                "status": {"phase": "Bound"},
            },
        )
    annotations = dict(claim["metadata"].get("annotations") or {})
    annotations.update(
        {
            "pv.kubernetes.io/bind-completed": "yes",
            "pv.kubernetes.io/bound-by-controller": "yes",
            "volume.kubernetes.io/storage-provisioner": PROVISIONER,
        }
    )
    bound = dict(
        claim,
        metadata=dict(claim["metadata"], annotations=annotations),
        spec=dict(spec, volumeName=volume_name),
    )
    bound["status"] = {
        "phase": "Bound",
        "accessModes": access_modes,
        "capacity": {"storage": size},
    }
    stored = ctl.update_object(key, claim, bound)
    ctl.report(key, stored, True)


def _resize(ctl: Controller, key: Key, claim: dict[str, Any]) -> None:
    requested_size = _requested(claim)
    status = claim.get("status") or {}
    current = (status.get("capacity") or {}).get("storage")
    try:
        grows = current is None or parse_quantity(requested_size) > parse_quantity(
            current
        )
    except ValueError:
        return

    if grows:
        ctl.write_status(key, claim, dict(status, capacity={"storage": requested_size}))


def release_volume(ctl: Controller, claim: dict[str, Any]) -> None:
    """Delete the volume of a deleted claim when its reclaim policy is `Delete`."""
    volume_name = (claim.get("spec") or {}).get("volumeName")
    if not volume_name:
        return

    key = (VOLUMES[0], VOLUMES[1], None, volume_name)
    volume = ctl.store.get(key)
    if (
        volume is not None
        and (volume.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Delete"
    ):
        ctl.delete(key)
