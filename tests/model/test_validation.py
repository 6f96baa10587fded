"""`oam.load_application` accepts the request's legal edge cases and warns about ignored keys.

This file covers snake_case aliases of camelCase keys, keys of the earlier Go
service that are accepted and ignored with a warning, `null` meaning absent, the
`component`/`components` alias and the warnings list. Rejections are tested in
test_bad_input.py.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import oam

REPOSITORY = Path(__file__).resolve().parents[2]
EVERYTHING = REPOSITORY / "tests" / "data" / "valid" / "everything.yaml"
EXAMPLES = sorted((REPOSITORY / "examples").glob("*.*"))


def load(request: dict[str, Any]) -> oam.LoadedApplication:
    return oam.load_application(json.dumps(request))


def dump(loaded: oam.LoadedApplication) -> dict[str, Any]:
    return loaded.application.model_dump()


def everything() -> dict[str, Any]:
    return yaml.safe_load(EVERYTHING.read_text(encoding="utf-8"))


def web(name: str = "web", **fields: Any) -> dict[str, Any]:
    return {"name": name, "type": "webservice", "image": "nginx:1.27", **fields}


def settings(name: str = "settings") -> dict[str, Any]:
    return {
        "name": name,
        "type": "config",
        "properties": {"conf": {"mode": "production"}},
    }


def rename_keys(data: Any, old: str, new: str) -> tuple[Any, int]:
    """Return a copy of `data` with every mapping key `old` renamed to `new`, and the count.

    Manifests under `objects` are left alone: they are Kubernetes objects, not request keys.
    """
    if isinstance(data, list):
        items = [rename_keys(item, old, new) for item in data]
        return [item for item, _ in items], sum(count for _, count in items)
    if not isinstance(data, dict):
        return data, 0
    renamed: dict[str, Any] = {}
    total = 0
    for key, value in data.items():
        if key == "objects":
            renamed[key] = copy.deepcopy(value)
            continue
        value, count = rename_keys(value, old, new)
        total += count
        if key == old:
            renamed[new] = value
            total += 1
        else:
            renamed[key] = value
    return renamed, total


def camel_to_snake(name: str) -> str:
    return re.sub(
        r"(?<=[a-z0-9])([A-Z]+)", lambda match: "_" + match.group(1).lower(), name
    )


def valid_fields(message: str) -> list[str]:
    """Return the field names that an unknown-field message lists as valid."""
    return message.split("valid fields: ", 1)[1].split(", ")


# --- snake_case aliases ---------------------------------------------------------------

SNAKE_ALIASES = [
    ("subSteps", "sub_steps"),
    ("mountPath", "mount_path"),
    ("envFrom", "env_from"),
    ("sourceName", "source_name"),
    ("storageClass", "storage_class"),
    ("create", "tmp_create"),
    ("create", "tmpCreate"),
    ("httpGet", "http_get"),
    ("tcpSocket", "tcp_socket"),
    ("httpHeaders", "http_headers"),
    ("valueFrom", "value_from"),
    ("claimName", "claim_name"),
    ("subPath", "sub_path"),
    ("readOnly", "read_only"),
    ("initialDelaySeconds", "initial_delay_seconds"),
    ("periodSeconds", "period_seconds"),
    ("failureThreshold", "failure_threshold"),
    ("ingressClassName", "ingress_class_name"),
    ("tlsSecretName", "tls_secret_name"),
    ("pathType", "path_type"),
    ("serviceAccount", "service_account"),
    ("clusterScope", "cluster_scope"),
    ("apiGroups", "api_groups"),
    ("nonResourceURLs", "non_resource_urls"),
    ("dependsOn", "depends_on"),
    ("maxConcurrency", "max_concurrency"),
    ("failurePolicy", "failure_policy"),
    ("initialInterval", "initial_interval"),
    ("maxInterval", "max_interval"),
]


@pytest.mark.parametrize(
    ("camel", "snake"), SNAKE_ALIASES, ids=[snake for _, snake in SNAKE_ALIASES]
)
def test_snake_case_key_parses_like_camel_case(camel: str, snake: str) -> None:
    request = everything()
    renamed, count = rename_keys(request, camel, snake)
    assert count > 0, f"everything.yaml does not use {camel!r}"

    assert dump(load(renamed)) == dump(load(request))


def test_snake_case_request_parses_alike() -> None:
    request = everything()
    snake_request = request
    for camel, snake in SNAKE_ALIASES:
        if camel != "create":
            snake_request, _ = rename_keys(snake_request, camel, snake)

    loaded = load(snake_request)

    assert dump(loaded) == dump(load(request))
    assert loaded.warnings == []


def test_camel_to_snake_helper_matches_the_alias_table() -> None:
    generated = {
        camel: camel_to_snake(camel) for camel, _ in SNAKE_ALIASES if camel != "create"
    }
    table = {camel: snake for camel, snake in SNAKE_ALIASES if camel != "create"}
    assert generated == table


def test_tmp_create_false_mounts_an_existing_claim() -> None:
    storage = {
        "name": "data",
        "type": "persistent",
        "mount_path": "/data",
        "tmp_create": False,
        "claim_name": "shared",
    }
    loaded = load({"name": "shop", "component": [web(traits={"storage": [storage]})]})

    mounted = loaded.application.components[0].traits.storage[0]

    assert mounted.create is False
    assert mounted.claim_name == "shared"


def test_http_get_alias_renders_probe() -> None:
    probe = {
        "type": "readiness",
        "http_get": {"path": "/healthz", "port": 8080},
        "period_seconds": 5,
    }
    loaded = load({"name": "shop", "component": [web(traits={"probes": [probe]})]})
    plan = oam.build_plan(loaded.application)

    container = plan.manifests["Deployment/default/web"]["spec"]["template"]["spec"][
        "containers"
    ][0]

    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["periodSeconds"] == 5


def test_same_key_in_both_spellings_is_rejected() -> None:
    storage = {
        "name": "data",
        "type": "ephemeral",
        "mountPath": "/a",
        "mount_path": "/b",
    }
    with pytest.raises(oam.InvalidRequest) as caught:
        load({"name": "shop", "component": [web(traits={"storage": [storage]})]})
    assert "component[0].traits.storage[0].mount_path" in str(caught.value)
    assert "give it once" in str(caught.value)


# --- component and components ---------------------------------------------------------


def test_components_is_an_alias_of_component() -> None:
    with_alias = load({"name": "shop", "components": [web()]})
    assert dump(with_alias) == dump(load({"name": "shop", "component": [web()]}))


def test_component_and_components_together_are_rejected() -> None:
    with pytest.raises(oam.InvalidRequest) as caught:
        load({"name": "shop", "component": [web()], "components": [web("api")]})
    assert "components" in str(caught.value)
    assert "give it once" in str(caught.value)


# --- ignored keys of the earlier Go service -------------------------------------------


def request_with_every_place() -> dict[str, Any]:
    """Return a request with two components, a port, two steps and a sub-step."""
    return {
        "name": "shop",
        "component": [web(properties={"ports": [{"port": 80}]}), settings()],
        "workflow": [
            {"name": "setup", "components": ["settings"]},
            {"name": "serve", "subSteps": [{"name": "front", "components": ["web"]}]},
        ],
    }


IGNORED_KEYS = [
    ((), "id", 42, "id"),
    ((), "icon", "shop.png", "icon"),
    ((), "tmpEnable", True, "tmpEnable"),
    ((), "jobType", "deploy", "jobType"),
    ((), "workflowType", "dag", "workflowType"),
    ((), "job_type", "deploy", "job_type"),
    (("component", 0), "id", 7, "component[0].id"),
    (("component", 0), "icon", "web.svg", "component[0].icon"),
    (("component", 0), "namespace", "other", "component[0].namespace"),
    (("component", 0), "tmpEnable", False, "component[0].tmpEnable"),
    (
        ("component", 0, "properties", "ports", 0),
        "expose",
        True,
        "component[0].properties.ports[0].expose",
    ),
    (("workflow", 0), "id", 3, "workflow[0].id"),
    (
        ("workflow", 1, "subSteps", 0),
        "tmpEnable",
        True,
        "workflow[1].subSteps[0].tmpEnable",
    ),
]


@pytest.mark.parametrize(
    ("where", "key", "value", "path"),
    IGNORED_KEYS,
    ids=[path for *_, path in IGNORED_KEYS],
)
def test_ignored_key_warns_naming_it(
    where: tuple[str | int, ...], key: str, value: Any, path: str
) -> None:
    request = request_with_every_place()
    target: Any = request
    for part in where:
        target = target[part]
    target[key] = value

    loaded = load(request)

    assert len(loaded.warnings) == 1
    assert loaded.warnings[0].startswith(f"{path}: ")
    assert "ignored" in loaded.warnings[0]
    assert dump(loaded) == dump(load(request_with_every_place()))


def test_every_ignored_key_gets_its_own_warning() -> None:
    request = request_with_every_place()
    request.update(
        {
            "id": 1,
            "icon": "shop.png",
            "tmpEnable": True,
            "jobType": "deploy",
            "workflowType": "dag",
        }
    )
    request["component"][0].update({"id": 2, "namespace": "other"})
    request["component"][0]["properties"]["ports"][0]["expose"] = True

    loaded = load(request)

    assert len(loaded.warnings) == 8
    for path in (
        "id",
        "icon",
        "tmpEnable",
        "jobType",
        "workflowType",
        "component[0].id",
        "component[0].namespace",
    ):
        assert any(warning.startswith(f"{path}: ") for warning in loaded.warnings), path
    assert any("ports[0].expose" in warning for warning in loaded.warnings)


def test_component_namespace_does_not_move_its_objects() -> None:
    request = request_with_every_place()
    request["namespace"] = "shop"
    request["component"][0]["namespace"] = "elsewhere"
    plan = oam.build_plan(load(request).application)

    namespaces = {
        manifest["metadata"].get("namespace") for manifest in plan.manifests.values()
    }

    assert namespaces == {"shop"}


def test_ignored_key_set_to_null_gives_no_warning() -> None:
    request = request_with_every_place()
    request["icon"] = None
    request["component"][0]["namespace"] = None
    assert load(request).warnings == []


def test_template_is_not_an_ignored_key() -> None:
    request = request_with_every_place()
    request["template"] = "lamp"
    with pytest.raises(oam.InvalidRequest) as caught:
        load(request)
    assert "template: templates are not supported" in str(caught.value)


# --- null means absent ----------------------------------------------------------------

OPTIONAL_KEYS = [
    ((), "namespace"),
    ((), "alias"),
    ((), "project"),
    ((), "description"),
    ((), "version"),
    ((), "workflow"),
    ((), "maxConcurrency"),
    ((), "failurePolicy"),
    ((), "retry"),
    (("component", 0), "replicas"),
    (("component", 0), "timeout"),
    (("component", 0), "properties"),
    (("component", 0), "traits"),
    (("component", 0, "properties"), "env"),
    (("component", 0, "properties"), "command"),
    (("component", 0, "traits"), "storage"),
    (("component", 0, "traits"), "resources"),
    (("component", 1), "image"),
    (("workflow", 1), "mode"),
    (("workflow", 1), "type"),
    (("workflow", 1), "components"),
    (("workflow", 1), "properties"),
    (("workflow", 1), "dependsOn"),
    (("workflow", 1), "if"),
    (("workflow", 1), "timeout"),
    (("workflow", 1, "subSteps", 0), "mode"),
]


@pytest.mark.parametrize(
    ("where", "key"),
    OPTIONAL_KEYS,
    ids=[".".join(map(str, [*where, key])) for where, key in OPTIONAL_KEYS],
)
def test_null_for_optional_field_means_absent(
    where: tuple[str | int, ...], key: str
) -> None:
    with_null = request_with_every_place()
    without = request_with_every_place()
    for request, absent in ((with_null, False), (without, True)):
        target: Any = request
        for part in where:
            target = (
                target.setdefault(part, {}) if isinstance(part, str) else target[part]
            )
        if absent:
            target.pop(key, None)
        else:
            target[key] = None

    assert dump(load(with_null)) == dump(load(without))


def test_null_defaults_are_the_documented_defaults() -> None:
    request = {
        "name": "shop",
        "namespace": None,
        "version": None,
        "component": [web(replicas=None)],
    }
    request["workflow"] = [{"name": "web", "mode": None}]

    application = load(request).application

    assert application.namespace == "default"
    assert application.version == "1.0.0"
    assert application.failure_policy == "keep"
    assert application.components[0].replicas == 1
    assert application.workflow[0].mode == "StepByStep"


def test_null_for_a_required_field_is_reported_missing() -> None:
    with pytest.raises(oam.InvalidRequest) as caught:
        load({"name": None, "component": [web()]})
    assert "name: is required but missing" in str(caught.value)


# --- steps ----------------------------------------------------------------------------


def test_unnamed_step_deploys_same_name_component() -> None:
    loaded = load(
        {
            "name": "shop",
            "component": [settings(), web()],
            "workflow": [{"name": "settings"}, {"name": "web"}],
        }
    )
    plan = oam.build_plan(loaded.application)
    assert [execution.components for execution in plan.executions] == [
        ("settings",),
        ("web",),
    ]


def test_legacy_policies_name_the_step_components() -> None:
    step = {
        "name": "serve",
        "mode": "DAG",
        "properties": {"policies": ["settings", "web"]},
    }
    loaded = load(
        {"name": "shop", "component": [settings(), web()], "workflow": [step]}
    )
    plan = oam.build_plan(loaded.application)
    assert plan.executions[0].components == ("settings", "web")


def test_sub_step_mode_defaults_to_dag() -> None:
    step = {"name": "serve", "subSteps": [{"name": "front", "components": ["web"]}]}
    loaded = load({"name": "shop", "component": [web()], "workflow": [step]})
    assert loaded.application.workflow[0].sub_steps[0].mode == "DAG"


# --- unknown-field messages list the request's spelling -------------------------------


def test_unknown_step_field_lists_if_among_valid_fields() -> None:
    step = {"name": "web", "dependOn": ["setup"]}
    with pytest.raises(oam.InvalidRequest) as caught:
        load({"name": "shop", "component": [web()], "workflow": [step]})
    fields = valid_fields(caught.value.problems[0].message)
    assert "if" in fields
    assert "condition" not in fields


def test_unknown_rule_field_lists_non_resource_urls() -> None:
    rule = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"], "verb": "list"}
    with pytest.raises(oam.InvalidRequest) as caught:
        load({"name": "shop", "component": [web(traits={"rbac": [{"rules": [rule]}]})]})
    fields = valid_fields(caught.value.problems[0].message)
    assert "nonResourceURLs" in fields


# --- the warnings list ----------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_loads_without_warnings(path: Path) -> None:
    loaded = oam.load_application(path.read_bytes(), path.name)
    assert loaded.warnings == []


def test_everything_request_loads_without_warnings() -> None:
    assert oam.load_application(EVERYTHING.read_bytes(), EVERYTHING.name).warnings == []


def test_config_from_later_step_warns() -> None:
    uses_settings = web(
        traits={"envFrom": [{"type": "configMap", "sourceName": "settings"}]}
    )
    request = {
        "name": "shop",
        "component": [uses_settings, settings()],
        "workflow": [
            {"name": "serve", "components": ["web"]},
            {"name": "setup", "components": ["settings"]},
        ],
    }

    warnings = load(request).warnings

    assert len(warnings) == 1
    assert "'web'" in warnings[0]
    assert "'settings'" in warnings[0]
    assert "later step" in warnings[0]


def test_config_from_earlier_step_is_silent() -> None:
    uses_settings = web(
        traits={"envFrom": [{"type": "configMap", "sourceName": "settings"}]}
    )
    request = {
        "name": "shop",
        "component": [settings(), uses_settings],
        "workflow": [
            {"name": "setup", "components": ["settings"]},
            {"name": "serve", "components": ["web"]},
        ],
    }
    assert load(request).warnings == []


# --- text in, application out ---------------------------------------------------------


def test_yaml_and_json_of_one_request_load_alike() -> None:
    request = request_with_every_place()
    from_yaml = oam.load_application(yaml.safe_dump(request))
    from_json = oam.load_application(json.dumps(request))
    assert dump(from_yaml) == dump(from_json)


def test_bytes_and_text_load_alike() -> None:
    text = json.dumps(request_with_every_place())
    assert dump(oam.load_application(text.encode("utf-8"))) == dump(
        oam.load_application(text)
    )


def test_quantities_written_as_numbers_are_accepted() -> None:
    loaded = load(
        {
            "name": "shop",
            "component": [web(traits={"resources": {"cpu": 0.5, "memory": 1024}})],
        }
    )
    resources = loaded.application.components[0].traits.resources
    assert resources is not None
    assert resources.cpu == "0.5"
    assert resources.memory == "1024"


def test_problem_source_names_the_request() -> None:
    with pytest.raises(oam.InvalidRequest) as caught:
        oam.load_application("name: Shop\ncomponent: []\n", "shop.yaml")
    assert str(caught.value).startswith("shop.yaml is invalid (2 problems):")


def test_unquoted_yaml_date_stays_the_text_written() -> None:
    # A date is text in a request, so an unquoted one in conf is not an error.
    text = (
        Path(__file__).parents[1] / "data" / "valid" / "conf-date-unquoted.yaml"
    ).read_text()
    application = oam.load_application(text).application
    assert application.components[0].properties.conf == {"release-date": "2024-01-15"}
