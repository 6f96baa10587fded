"""kubectl against the emulator: server-side apply and listing with server-side printing."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

KUBECTL = "/usr/bin/kubectl"

pytestmark = pytest.mark.skipif(
    not os.path.exists(KUBECTL), reason="kubectl is not installed at /usr/bin/kubectl"
)

MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "registry.local/web:1"}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: default}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: "registry.local/db:1"}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: default}
data: {mode: demo}
---
apiVersion: v1
kind: Secret
metadata: {name: password, namespace: default}
stringData: {value: hunter2}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: default}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
"""


@pytest.fixture
def kubectl(emulator_url, control, tmp_path):
    """Run kubectl against the emulator with a private cache and home folder."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [
            KUBECTL,
            "--server",
            emulator_url,
            "--cache-dir",
            str(tmp_path / "cache"),
            *args,
        ]
        env = dict(
            os.environ,
            HOME=str(tmp_path),
            KUBECONFIG=str(tmp_path / "missing-kubeconfig"),
        )
        return subprocess.run(
            command, capture_output=True, text=True, timeout=60, env=env, check=False
        )

    yield run
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)


def test_kubectl_server_side_apply(kubectl, tmp_path, control):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(MANIFEST)

    result = kubectl("apply", "--server-side", "-f", str(manifest))

    assert result.returncode == 0, result.stderr
    assert "deployment.apps/web serverside-applied" in result.stdout
    assert {entry["fieldManager"] for entry in control.writes(verb="apply")} == {
        "kubectl"
    }


def test_kubectl_lists_applied_objects(kubectl, tmp_path, control):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(MANIFEST)
    kubectl("apply", "--server-side", "-f", str(manifest))
    control.wait_for_event("ready", "Deployment", "web")

    result = kubectl("get", "deploy,sts,svc,cm,secret,pvc", "-A")

    assert result.returncode == 0, result.stderr
    for name in (
        "deployment.apps/web",
        "statefulset.apps/db",
        "service/web",
        "configmap/settings",
        "secret/password",
        "persistentvolumeclaim/data",
    ):
        assert name in result.stdout


def test_kubectl_rollout_status_succeeds(kubectl, tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(MANIFEST)
    kubectl("apply", "--server-side", "-f", str(manifest))

    result = kubectl("rollout", "status", "deployment/web", "--timeout=20s")

    assert result.returncode == 0, result.stderr
    assert "successfully rolled out" in result.stdout


def test_kubectl_finds_configmaps_by_short_name(kubectl):
    result = kubectl("get", "cm", "-n", "default")
    assert result.returncode == 0, result.stderr
