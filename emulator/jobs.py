"""The Job controller: run pods to completion, retry failures up to `backoffLimit`.

A Job runs up to `parallelism` pods until `completions` pods succeeded. A
failed pod is replaced after `backoffDelay`. The Job fails with
`BackoffLimitExceeded` when its failures exceed `backoffLimit`; for pods with
`restartPolicy: OnFailure`, container restarts count as failures, so `failed`
counts restarts there, unlike the real controller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator import pods
from emulator.pods import build_pod, random_suffix
from emulator.podstatus import is_finished, is_ready, merge_conditions
from emulator.store import Key
from emulator.workloads import PODS, _condition, _spec, key_of_pod

if TYPE_CHECKING:
    from emulator.controller import Controller


def _job_pod_failures(pod: dict[str, Any]) -> int:
    if (pod.get("status") or {}).get("phase") == "Failed":
        return 1

    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return sum(status.get("restartCount", 0) for status in statuses)


def reconcile_job(ctl: Controller, key: Key, job: dict[str, Any]) -> None:
    spec = _spec(job)
    old_status = job.get("status") or {}
    conditions = {
        c.get("type"): c.get("status") for c in old_status.get("conditions") or []
    }
    if conditions.get("Complete") == "True" or conditions.get("Failed") == "True":
        return

    name = job["metadata"]["name"]
    completions = int(spec.get("completions") or 1)
    parallelism = int(spec.get("parallelism") or 1)
    backoff_limit = int(spec.get("backoffLimit", 6))
    now = ctl.timestamp()

    owned = ctl.owned(job, PODS)
    succeeded = sum(
        1 for _, pod in owned if (pod.get("status") or {}).get("phase") == "Succeeded"
    )
    failures = sum(_job_pod_failures(pod) for _, pod in owned)
    active = [(k, p) for k, p in owned if not is_finished(p)]
    status: dict[str, Any] = {"startTime": old_status.get("startTime") or now}
    new_conditions: list[dict[str, Any]] = []
    failed = failures > backoff_limit
    complete = succeeded >= completions

    if failed:
        for pod_key, _ in active:
            ctl.delete(pod_key)
        active = []
        message = f"the Job failed {failures} times, more than its backoffLimit of {backoff_limit}"
        new_conditions = [
            _condition("FailureTarget", True, "BackoffLimitExceeded", message),
            _condition("Failed", True, "BackoffLimitExceeded", message),
        ]
    elif complete:
        status["completionTime"] = now
        message = f"{succeeded} of {completions} completions succeeded"
        new_conditions = [
            _condition("SuccessCriteriaMet", True, "CompletionsReached", message),
            _condition("Complete", True, "CompletionsReached", message),
        ]
    elif spec.get("suspend"):
        for pod_key, _ in active:
            ctl.delete(pod_key)
        active = []
        new_conditions = [
            _condition("Suspended", True, "JobSuspended", "the Job is suspended")
        ]
    else:
        # A new failure delays the replacement pod by backoffDelay.
        if failures > int(old_status.get("failed", 0)):
            ctl.job_retry_at[key] = ctl.clock() + max(ctl.config.backoff_delay, 0.01)
        missing_pods = min(parallelism, completions - succeeded) - len(active)
        retry_at = ctl.job_retry_at.get(key, 0.0)
        if missing_pods > 0 and ctl.clock() < retry_at:
            ctl.wake_at(key, retry_at)
        elif missing_pods > 0:
            template = spec.get("template") or {}
            for _ in range(missing_pods):
                stored = ctl.create(
                    PODS,
                    build_pod(
                        job,
                        template,
                        f"{name}-{random_suffix()}",
                        {},
                        {"nodeName": pods.NODE_NAME},
                    ),
                )
                active.append((key_of_pod(stored), stored))

    if active:
        status["active"] = len(active)
    status["ready"] = sum(1 for _, pod in active if is_ready(pod))
    if succeeded:
        status["succeeded"] = succeeded
    if failures:
        status["failed"] = failures
    status["terminating"] = 0
    status["uncountedTerminatedPods"] = {}
    if new_conditions:
        status["conditions"] = merge_conditions(
            old_status.get("conditions"), new_conditions, now
        )
    if ctl.is_held(key, job):
        ctl.report(key, job, False)
        return

    stored = ctl.write_status(key, job, status)
    ctl.report(key, stored, complete, failed=failed)
