"""The planner turns steps into executions, tiers and jobs exactly as documented."""

from __future__ import annotations

import pytest

import oam
from oam.kinds import Tier


def plan_of(request: dict) -> oam.Plan:
    return oam.build_plan(oam.validate_document(request).application)


def web(name: str, **extra) -> dict:
    return {
        "name": name,
        "type": "webservice",
        "image": "nginx:1.27",
        "properties": {"ports": [{"port": 80}]},
        **extra,
    }


def config(name: str) -> dict:
    return {"name": name, "type": "config", "properties": {"conf": {"k": "v"}}}


def shape(plan: oam.Plan) -> list[tuple]:
    """(step, subStep, mode, [(tier, concurrency, [kind/name, ...])]) per execution."""
    return [
        (
            execution.step,
            execution.sub_step,
            execution.mode,
            [
                (
                    tier.tier.value,
                    tier.concurrency,
                    [f"{job.kind}/{job.name}" for job in tier.jobs],
                )
                for tier in execution.tiers
            ],
        )
        for execution in plan.executions
    ]


def test_no_workflow_runs_one_step_by_step_step_per_component() -> None:
    plan = plan_of({"name": "app", "component": [config("settings"), web("api")]})
    assert shape(plan) == [
        ("settings", None, "StepByStep", [("High", 1, ["ConfigMap/settings"])]),
        ("api", None, "StepByStep", [("Normal", 1, ["Service/api", "Deployment/api"])]),
    ]
    assert [step.depends_on for step in plan.steps] == [(), ("settings",)]


@pytest.mark.parametrize(
    ("step", "expected_components"),
    [
        ({"name": "s", "components": ["b", "a"]}, ("b", "a")),
        ({"name": "s", "properties": {"policies": ["a", "b"]}}, ("a", "b")),
        (
            {"name": "s", "components": ["b"], "properties": {"policies": ["a", "b"]}},
            ("b", "a"),
        ),
        ({"name": "s", "components": ["a", "a", "b"]}, ("a", "b")),
    ],
    ids=["components", "legacy-policies", "union-in-order", "named-twice-deduplicated"],
)
def test_step_components_are_the_deduplicated_union(
    step: dict, expected_components: tuple
) -> None:
    plan = plan_of(
        {
            "name": "app",
            "component": [config("a"), config("b")],
            "workflow": [{**step, "mode": "DAG"}],
        }
    )
    assert plan.executions[0].components == expected_components


def test_step_without_components_deploys_the_component_of_its_name() -> None:
    plan = plan_of(
        {"name": "app", "component": [config("db")], "workflow": [{"name": "db"}]}
    )
    assert plan.executions[0].components == ("db",)


def test_step_by_step_step_runs_one_execution_per_component_with_concurrency_one() -> (
    None
):
    plan = plan_of(
        {
            "name": "app",
            "component": [web("a"), web("b")],
            "workflow": [{"name": "s", "components": ["a", "b"]}],
        }
    )
    assert shape(plan) == [
        ("s", None, "StepByStep", [("Normal", 1, ["Service/a", "Deployment/a"])]),
        ("s", None, "StepByStep", [("Normal", 1, ["Service/b", "Deployment/b"])]),
    ]


def test_dag_step_runs_one_execution_with_tier_wide_concurrency() -> None:
    plan = plan_of(
        {
            "name": "app",
            "component": [web("a"), web("b"), config("c")],
            "workflow": [{"name": "s", "mode": "DAG", "components": ["a", "b", "c"]}],
        }
    )
    assert shape(plan) == [
        (
            "s",
            None,
            "DAG",
            [
                ("High", 1, ["ConfigMap/c"]),
                (
                    "Normal",
                    4,
                    ["Service/a", "Service/b", "Deployment/a", "Deployment/b"],
                ),
            ],
        )
    ]


def test_dag_concurrency_is_capped_by_step_and_request() -> None:
    components = [web(f"w{index}") for index in range(5)]
    names = [component["name"] for component in components]
    step_cap = plan_of(
        {
            "name": "app",
            "component": components,
            "workflow": [
                {"name": "s", "mode": "DAG", "components": names, "maxConcurrency": 3}
            ],
        }
    )
    request_cap = plan_of(
        {
            "name": "app",
            "maxConcurrency": 2,
            "component": components,
            "workflow": [{"name": "s", "mode": "DAG", "components": names}],
        }
    )
    assert step_cap.executions[0].tiers[0].concurrency == 3
    assert request_cap.executions[0].tiers[0].concurrency == 2


def test_component_with_jobs_in_all_three_tiers_runs_high_normal_low() -> None:
    component = web(
        "site",
        traits={
            "storage": [{"name": "data", "type": "persistent", "mountPath": "/data"}],
            "rbac": [
                {
                    "rules": [
                        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
                    ]
                }
            ],
            "ingress": [{"host": "site.example.com"}],
        },
    )
    plan = plan_of({"name": "app", "component": [component]})
    assert shape(plan) == [
        (
            "site",
            None,
            "StepByStep",
            [
                (
                    "High",
                    1,
                    [
                        "ServiceAccount/site",
                        "PersistentVolumeClaim/site-data",
                        "Role/site",
                        "RoleBinding/site",
                    ],
                ),
                ("Normal", 1, ["Service/site", "Deployment/site"]),
                ("Low", 1, ["Ingress/site"]),
            ],
        )
    ]


def test_sub_steps_under_step_by_step_parent_run_in_order_by_their_own_mode() -> None:
    plan = plan_of(
        {
            "name": "app",
            "component": [config("a"), config("b"), config("c")],
            "workflow": [
                {
                    "name": "parent",
                    "mode": "StepByStep",
                    "subSteps": [
                        {"name": "first", "mode": "DAG", "components": ["a", "b"]},
                        {"name": "second", "mode": "StepByStep", "components": ["c"]},
                    ],
                }
            ],
        }
    )
    assert shape(plan) == [
        ("parent", "first", "DAG", [("High", 2, ["ConfigMap/a", "ConfigMap/b"])]),
        ("parent", "second", "StepByStep", [("High", 1, ["ConfigMap/c"])]),
    ]


def test_sub_steps_under_dag_parent_merge_into_one_execution_sharing_tiers() -> None:
    plan = plan_of(
        {
            "name": "app",
            "component": [config("a"), web("b")],
            "workflow": [
                {
                    "name": "parent",
                    "mode": "DAG",
                    "subSteps": [
                        {"name": "one", "components": ["b"]},
                        {"name": "two", "components": ["a"]},
                    ],
                }
            ],
        }
    )
    assert shape(plan) == [
        (
            "parent",
            None,
            "DAG",
            [
                ("High", 1, ["ConfigMap/a"]),
                ("Normal", 2, ["Service/b", "Deployment/b"]),
            ],
        ),
    ]


def test_jobs_within_a_tier_follow_install_order_then_component_order_then_name() -> (
    None
):
    components = [
        web("zeta"),
        config("alpha"),
        {"name": "beta", "type": "secret", "properties": {"secret": {"k": "v"}}},
    ]
    plan = plan_of(
        {
            "name": "app",
            "component": components,
            "workflow": [
                {"name": "s", "mode": "DAG", "components": ["zeta", "alpha", "beta"]}
            ],
        }
    )
    high = plan.executions[0].tiers[0]
    assert high.tier == Tier.HIGH
    assert [f"{job.kind}/{job.name}" for job in high.jobs] == [
        "Secret/beta",
        "ConfigMap/alpha",
    ]


def test_plan_is_deterministic() -> None:
    request = {
        "name": "app",
        "component": [web("a"), config("b")],
        "workflow": [{"name": "s", "mode": "DAG", "components": ["a", "b"]}],
    }
    assert plan_of(request).to_json() == plan_of(request).to_json()


def test_plan_json_has_the_documented_shape() -> None:
    plan = plan_of({"name": "app", "namespace": "shop", "component": [config("a")]})
    data = plan.to_json()
    assert data["application"] == "app"
    assert data["namespace"] == "shop"
    execution = data["executions"][0]
    assert set(execution) >= {"step", "subStep", "mode", "tiers"}
    job = execution["tiers"][0]["jobs"][0]
    assert job == {
        "component": "a",
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "name": "a",
        "namespace": "shop",
    }


def test_approval_step_has_no_executions_and_keeps_the_graph() -> None:
    plan = plan_of(
        {
            "name": "app",
            "component": [config("a"), config("b")],
            "workflow": [
                {"name": "a"},
                {"name": "gate", "type": "approval", "timeout": "1h"},
                {"name": "b", "dependsOn": ["gate"], "if": "success()"},
            ],
        }
    )
    gate = plan.steps[1]
    assert gate.type == "approval"
    assert gate.executions == ()
    assert gate.timeout_seconds == 3600
    assert plan.steps[2].depends_on == ("gate",)
    assert plan.steps[2].condition == "success()"
