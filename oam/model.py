"""The application request: pydantic models for components, traits and workflow steps.

Keys are camelCase; every key is also accepted in snake_case, the spelling of the
earlier Go service. Models are strict: a number is not a string, unknown keys are
rejected, and `null` for an optional field means the field is absent. Checks that
need more than one field (references between components and steps, uniqueness)
live in `oam.validation`, which runs after these models parse.

The models are immutable and cross the Temporal boundary as the workflow input, so
they hold only JSON-friendly values.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    AliasGenerator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic.alias_generators import to_camel

from oam import names, units

MAX_COMPONENTS = 20_000
MAX_STEPS = 5_000


def _both_spellings(field: str) -> AliasChoices:
    return AliasChoices(to_camel(field), field)


class Model(BaseModel):
    """Base of every request model: strict, closed, camelCase with snake_case aliases."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        alias_generator=AliasGenerator(
            validation_alias=_both_spellings, serialization_alias=to_camel
        ),
        # Only the spellings in the aliases: a Python name such as `condition`
        # (for `if`) must not become a third spelling of a key.
        validate_by_name=False,
        serialize_by_alias=True,
    )

    # Keys the Go service sent that mean nothing here: accepted, dropped, warned about.
    IGNORED: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls_and_ignored(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        # Most objects have neither; returning them as they are saves a copy each.
        if None not in data.values() and cls.IGNORED.isdisjoint(data):
            return data
        return {
            key: value
            for key, value in data.items()
            if value is not None and key not in cls.IGNORED
        }


def _checked(check: Any) -> Any:
    def run(value: str) -> str:
        problem = check(value)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(run)


def _duration(value: str) -> str:
    units.parse_duration(value)
    return value


def _quantity(value: str) -> str:
    if units.parse_quantity(value) < 0:
        raise ValueError(f"invalid quantity {value!r}: must not be negative")
    return value


def _number_to_text(value: Any) -> Any:
    # YAML writes `cpu: 1` and `size: 0.5` unquoted; Kubernetes accepts numbers for
    # quantities, so do the same. Booleans are not numbers here.
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return str(value)
    return value


Name = Annotated[str, _checked(names.check_dns_label)]
Image = Annotated[str, _checked(names.check_image)]
Duration = Annotated[str, AfterValidator(_duration)]
Quantity = Annotated[str, BeforeValidator(_number_to_text), AfterValidator(_quantity)]
PortNumber = Annotated[int, Field(ge=1, le=65535)]
Mode = Literal["StepByStep", "DAG"]
ComponentType = Literal["webservice", "store", "config", "secret", "job", "k8s-objects"]
StringMap = dict[str, str]


class RetryPolicy(Model):
    """How transient Kubernetes API errors are retried: exponential backoff."""

    attempts: Annotated[int, Field(ge=1, le=100)] = 6
    initial_interval: Duration = "500ms"
    max_interval: Duration = "30s"


class Port(Model):
    IGNORED = frozenset({"expose"})

    port: PortNumber
    name: Annotated[str, _checked(names.check_port_name)] | None = None
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"


class Properties(Model):
    image: Image | None = None
    ports: list[Port] = Field(default_factory=list)
    env: StringMap = Field(default_factory=dict)
    conf: StringMap = Field(default_factory=dict)
    secret: StringMap = Field(default_factory=dict)
    command: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)
    labels: StringMap = Field(default_factory=dict)
    objects: list[dict[str, Any]] = Field(default_factory=list)


class Storage(Model):
    name: Name
    type: Literal["persistent", "ephemeral", "config", "secret"]
    mount_path: str
    sub_path: str | None = None
    read_only: bool = False
    size: Quantity | None = None
    storage_class: Name | None = None
    claim_name: Name | None = None
    create: bool = Field(
        default=True, validation_alias=AliasChoices("create", "tmpCreate", "tmp_create")
    )
    source_name: Name | None = None


class Ingress(Model):
    host: str | None = None
    path: str = "/"
    path_type: Literal["Prefix", "Exact", "ImplementationSpecific"] = "Prefix"
    port: PortNumber | None = None
    ingress_class_name: Name | None = None
    tls_secret_name: Name | None = None


class ExecAction(Model):
    command: list[str]


class HttpHeader(Model):
    name: str
    value: str


class HttpGetAction(Model):
    path: str = "/"
    port: PortNumber | Annotated[str, _checked(names.check_port_name)]
    scheme: Literal["HTTP", "HTTPS"] = "HTTP"
    host: str | None = None
    http_headers: list[HttpHeader] = Field(default_factory=list)


class TcpSocketAction(Model):
    port: PortNumber | Annotated[str, _checked(names.check_port_name)]


NonNegative = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]


class Probe(Model):
    type: Literal["liveness", "readiness", "startup"]
    exec: ExecAction | None = None
    http_get: HttpGetAction | None = None
    tcp_socket: TcpSocketAction | None = None
    initial_delay_seconds: NonNegative | None = None
    period_seconds: Positive | None = None
    timeout_seconds: Positive | None = None
    success_threshold: Positive | None = None
    failure_threshold: Positive | None = None

    @model_validator(mode="after")
    def _one_handler(self) -> Probe:
        handlers = [self.exec, self.http_get, self.tcp_socket]
        count = sum(handler is not None for handler in handlers)
        if count != 1:
            raise ValueError(
                f"a probe needs exactly one of exec, httpGet, tcpSocket (it has {count})"
            )
        return self


class Resources(Model):
    cpu: Quantity | None = None
    memory: Quantity | None = None
    gpu: NonNegative | None = None


class EnvFrom(Model):
    type: Literal["configMap", "secret"]
    source_name: Name


class KeyRef(Model):
    name: Name
    key: Annotated[str, _checked(names.check_config_key)]


FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)


def _field_path(value: str) -> str:
    if value in FIELD_PATHS:
        return value
    if value.startswith(
        ("metadata.labels['", "metadata.annotations['")
    ) and value.endswith("']"):
        return value
    raise ValueError(
        f"invalid pod field path {value!r}; valid choices: {', '.join(FIELD_PATHS)},"
        " metadata.labels['KEY'], metadata.annotations['KEY']"
    )


class ValueFrom(Model):
    config: KeyRef | None = None
    secret: KeyRef | None = None
    field: Annotated[str, AfterValidator(_field_path)] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ValueFrom:
        count = sum(
            source is not None for source in (self.config, self.secret, self.field)
        )
        if count != 1:
            raise ValueError(
                f"valueFrom needs exactly one of config, secret, field (it has {count})"
            )
        return self


class EnvVar(Model):
    name: Annotated[str, _checked(names.check_env_name)]
    value_from: ValueFrom


class Container(Model):
    name: Name
    image: Image
    command: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)
    env: StringMap = Field(default_factory=dict)


class PolicyRule(Model):
    api_groups: list[str] = Field(default_factory=list)
    resources: list[str] = Field(default_factory=list)
    verbs: Annotated[list[str], Field(min_length=1)]
    resource_names: list[str] = Field(default_factory=list)
    non_resource_urls: list[str] = Field(
        default_factory=list,
        validation_alias=AliasChoices(
            "nonResourceURLs", "nonResourceUrls", "non_resource_urls"
        ),
        serialization_alias="nonResourceURLs",
    )


class Rbac(Model):
    service_account: Name | None = None
    rules: list[PolicyRule] = Field(default_factory=list)
    cluster_scope: bool = False


class Traits(Model):
    storage: list[Storage] = Field(default_factory=list)
    ingress: list[Ingress] = Field(default_factory=list)
    probes: list[Probe] = Field(default_factory=list)
    resources: Resources | None = None
    env_from: list[EnvFrom] = Field(default_factory=list)
    envs: list[EnvVar] = Field(default_factory=list)
    sidecar: list[Container] = Field(default_factory=list)
    init: list[Container] = Field(default_factory=list)
    rbac: list[Rbac] = Field(default_factory=list)


class Component(Model):
    IGNORED = frozenset({"id", "icon", "namespace", "tmpEnable", "tmp_enable"})

    name: Name
    type: ComponentType
    image: Image | None = None
    replicas: NonNegative = 1
    timeout: Duration | None = None
    properties: Properties = Field(default_factory=Properties)
    traits: Traits = Field(default_factory=Traits)

    @property
    def effective_image(self) -> str | None:
        return self.image or self.properties.image


class StepProperties(Model):
    policies: list[Name] = Field(default_factory=list)


class SubStep(Model):
    IGNORED = frozenset({"id", "tmpEnable", "tmp_enable"})

    name: Name
    mode: Mode = "DAG"
    components: list[Name] = Field(default_factory=list)
    properties: StepProperties = Field(default_factory=StepProperties)


class WorkflowStep(Model):
    IGNORED = frozenset({"id", "tmpEnable", "tmp_enable"})

    name: Name
    type: Literal["deploy", "approval"] = "deploy"
    mode: Mode = "StepByStep"
    components: list[Name] = Field(default_factory=list)
    properties: StepProperties = Field(default_factory=StepProperties)
    sub_steps: list[SubStep] = Field(default_factory=list)
    max_concurrency: Positive | None = None
    timeout: Duration | None = None
    depends_on: list[Name] | None = None
    condition: str | None = Field(
        default=None, validation_alias=AliasChoices("if"), serialization_alias="if"
    )
    retry: RetryPolicy | None = None


class Application(Model):
    IGNORED = frozenset(
        {
            "id",
            "icon",
            "jobType",
            "job_type",
            "workflowType",
            "workflow_type",
            "tmpEnable",
            "tmp_enable",
        }
    )

    name: Name
    namespace: Name = "default"
    alias: str | None = None
    project: Annotated[str, _checked(names.check_label_value)] | None = None
    description: str | None = None
    version: Annotated[str, _checked(names.check_label_value)] = "1.0.0"
    components: Annotated[
        list[Component], Field(min_length=1, max_length=MAX_COMPONENTS)
    ] = Field(
        validation_alias=AliasChoices("component", "components"),
        serialization_alias="component",
    )
    workflow: Annotated[list[WorkflowStep], Field(max_length=MAX_STEPS)] = Field(
        default_factory=list
    )
    max_concurrency: Positive | None = None
    failure_policy: Literal["keep", "cleanup"] = "keep"
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    def component(self, name: str) -> Component:
        for component in self.components:
            if component.name == name:
                return component
        raise KeyError(name)
