"""Generated requests for the benchmarks, as the plain dicts a user would write.

Every generator is deterministic: the same arguments give the same request, so
runs of a benchmark deploy identical objects.
"""

from __future__ import annotations

from typing import Any

IMAGE = "registry.example.com/bench/app:1.0"


def config(name: str) -> dict[str, Any]:
    """Return a `config` component: one ConfigMap, ready as soon as it is applied."""
    return {
        "name": name,
        "type": "config",
        "properties": {"conf": {"LOG_LEVEL": "info", "COMPONENT": name}},
    }


def secret(name: str) -> dict[str, Any]:
    """Return a `secret` component: one Secret."""
    return {
        "name": name,
        "type": "secret",
        "properties": {"secret": {"TOKEN": f"token-of-{name}"}},
    }


def webservice(
    name: str, *, ports: bool = True, ingress: bool = False, rbac: bool = False
) -> dict[str, Any]:
    """Return a `webservice`: a Deployment, and a Service, Ingress or RBAC objects if asked."""
    component: dict[str, Any] = {
        "name": name,
        "type": "webservice",
        "image": IMAGE,
        "properties": {"env": {"COMPONENT": name}},
        "traits": {"resources": {"cpu": "100m", "memory": "128Mi"}},
    }
    if ports:
        component["properties"]["ports"] = [{"port": 8080, "name": "http"}]
    if ingress:
        component["traits"]["ingress"] = [{"host": f"{name}.bench.example.com"}]
    if rbac:
        component["traits"]["rbac"] = [
            {
                "rules": [
                    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}
                ]
            }
        ]
    return component


def store(name: str) -> dict[str, Any]:
    """Return a `store`: a StatefulSet with a volume claim template and a headless Service."""
    return {
        "name": name,
        "type": "store",
        "image": "registry.example.com/bench/db:16",
        "properties": {"ports": [{"port": 5432}]},
        "traits": {
            "storage": [
                {
                    "name": "data",
                    "type": "persistent",
                    "mountPath": "/var/lib/data",
                    "size": "1Gi",
                }
            ]
        },
    }


def job(name: str) -> dict[str, Any]:
    """Return a `job` component: one batch Job."""
    return {
        "name": name,
        "type": "job",
        "image": "registry.example.com/bench/migrate:1.0",
        "properties": {"command": ["/bin/migrate", "--once"]},
    }


def config_chain(name: str, count: int) -> dict[str, Any]:
    """Return `count` config components and no workflow: a StepByStep chain of single jobs."""
    return {
        "name": name,
        "component": [config(f"settings-{index:04d}") for index in range(count)],
    }


def fan_out(name: str, count: int) -> dict[str, Any]:
    """Return `count` webservices without ports (one Deployment each) in one DAG step."""
    names = [f"web-{index:04d}" for index in range(count)]
    return {
        "name": name,
        "component": [webservice(component, ports=False) for component in names],
        "workflow": [{"name": "all", "mode": "DAG", "components": names}],
    }


def web_fleet(name: str, count: int) -> dict[str, Any]:
    """Return `count` webservices with a port and an ingress (3 jobs each), no workflow."""
    return {
        "name": name,
        "component": [
            webservice(f"web-{index:04d}", ingress=True) for index in range(count)
        ],
    }


# Shares of each component type in `mixed_components`, per 20 components. The 20
# render to 61 objects, so 1,000 components make 3,050 jobs.
MIX = (
    ("webservice-ingress", 12),
    ("webservice-rbac", 3),
    ("store", 2),
    ("config", 1),
    ("secret", 1),
    ("job", 1),
)


def mixed_components(count: int) -> list[dict[str, Any]]:
    """Return `count` components of every type in the proportions of `MIX`."""
    pattern = [kind for kind, share in MIX for _ in range(share)]
    components = []
    for index in range(count):
        kind = pattern[index % len(pattern)]
        name = f"{kind.split('-')[0][:5]}-{index:05d}"
        if kind == "webservice-ingress":
            components.append(webservice(name, ingress=True))
        elif kind == "webservice-rbac":
            components.append(webservice(name, ingress=True, rbac=True))
        elif kind == "store":
            components.append(store(name))
        elif kind == "config":
            components.append(config(name))
        elif kind == "secret":
            components.append(secret(name))
        else:
            components.append(job(name))
    return components


def mixed(name: str, count: int, *, steps: int = 0) -> dict[str, Any]:
    """Return `count` mixed components, split into `steps` workflow steps if it is above 0.

    With steps, the components are dealt in order into steps that alternate
    between DAG and StepByStep, starting with DAG.
    """
    components = mixed_components(count)
    request: dict[str, Any] = {"name": name, "component": components}
    if steps > 0:
        size = -(-count // steps)
        request["workflow"] = [
            {
                "name": f"step-{number:03d}",
                "mode": "DAG" if number % 2 == 0 else "StepByStep",
                "components": [
                    component["name"]
                    for component in components[number * size : (number + 1) * size]
                ],
            }
            for number in range(steps)
        ]
    return request
