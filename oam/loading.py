"""From request text to a validated `Application`, with every problem collected.

`load_application` is the single entry point used by the CLI and the tests. It takes
text (never a path: reading files is the caller's job, which keeps this package free
of I/O), parses it with `oam.documents`, parses the models, runs the cross-field
checks of `oam.validation`, and returns the application together with warnings
about keys it ignored. When the models do not parse, the references between steps
and components are still checked, so one run reports both kinds of mistakes.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from typing import Any, Union

from pydantic import BaseModel, ValidationError

from oam import documents, errors, validation
from oam.documents import MAX_DEPTH, MAX_NODES, MAX_REQUEST_BYTES
from oam.model import Application, Model
from oam.performance import paused_garbage_collection
from oam.planning import Plan, build_plan

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_REQUEST_BYTES",
    "LoadedApplication",
    "load_application",
    "parse_document",
    "validate_document",
]


@dataclass
class LoadedApplication:
    application: Application
    warnings: list[str] = field(default_factory=list)
    # Manifests by component, rendered during validation; `plan()` reuses them.
    rendered: dict[str, list[Any]] | None = None

    def plan(self) -> Plan:
        """Build the execution plan of the application (see `oam.build_plan`)."""
        return build_plan(self.application, self.rendered)


def load_application(text: str | bytes, source: str = "request") -> LoadedApplication:
    """Parse and validate a request; raise `errors.InvalidRequest` with all problems."""
    with paused_garbage_collection():
        document = documents.parse(text, source)
        return validate_document(document.data, source, document.scalar_text)


def parse_document(text: str | bytes, source: str = "request") -> Any:
    """Parse a JSON or YAML request into data, not yet validated."""
    return documents.parse(text, source).data


def validate_document(
    data: Any,
    source: str = "request",
    scalar_text: dict[documents.Path, str] | None = None,
) -> LoadedApplication:
    """Validate parsed request data; `scalar_text` improves hints for YAML scalars."""
    with paused_garbage_collection():
        return _validate(data, source, scalar_text)


def _validate(
    data: Any, source: str, scalar_text: dict[documents.Path, str] | None
) -> LoadedApplication:
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "empty document"
        raise errors.InvalidRequest(
            [errors.Problem("(request)", f"expected a mapping of fields, got {kind}")],
            source,
        )

    problems = errors.ProblemList()
    warnings: list[str] = []
    _walk_ignored(data, Application, [], warnings, problems)
    try:
        application = Application.model_validate(data)
    except ValidationError as error:
        for problem in describe_validation_error(error, scalar_text or {}):
            problems.items.append(problem)
        validation.check_raw_references(data, problems)
        problems.raise_if_any(source)
        raise  # pragma: no cover - describe_validation_error always yields problems
    problems.raise_if_any(source)

    rendered = validation.check_application(application, problems, warnings)
    problems.raise_if_any(source)
    return LoadedApplication(application, warnings, rendered)


# --- pydantic errors into problems -------------------------------------------------

_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "float_type": "a number",
}


def describe_validation_error(
    error: ValidationError, scalar_text: dict[documents.Path, str] | None = None
) -> list[errors.Problem]:
    """Turn pydantic's errors into problems that name the path, the value and the choices."""
    problems = []
    for item in error.errors(include_url=False):
        loc = list(item["loc"])
        path = errors.format_path(loc)
        kind = item["type"]
        value = item.get("input")
        written = (scalar_text or {}).get(tuple(loc))
        shown = written if written is not None else errors.show_value(value)
        ctx = item.get("ctx") or {}

        if kind == "missing":
            message = "is required but missing"
        elif kind == "extra_forbidden":
            message = _unknown_field_message(loc)
        elif kind in _TYPE_NAMES:
            message = f"expected {_TYPE_NAMES[kind]}, got {shown}"
            if kind == "string_type" and isinstance(value, bool | int | float):
                text = written if written is not None else _yaml_text(value)
                message += f'; quote it to make it a string: "{text}"'
        elif kind == "literal_error":
            message = f"invalid value {shown}; valid choices: {ctx.get('expected', '')}"
        elif kind in (
            "greater_than_equal",
            "greater_than",
            "less_than_equal",
            "less_than",
        ):
            bound = {
                "greater_than_equal": f"at least {ctx.get('ge')}",
                "greater_than": f"greater than {ctx.get('gt')}",
                "less_than_equal": f"at most {ctx.get('le')}",
                "less_than": f"less than {ctx.get('lt')}",
            }[kind]
            message = f"invalid value {shown}; must be {bound}"
        elif kind == "too_short":
            message = f"must have at least {ctx.get('min_length')} item(s), got {shown}"
        elif kind == "too_long":
            message = f"must have at most {ctx.get('max_length')} items, got {ctx.get('actual_length')}"
        elif kind == "value_error":
            message = str(ctx.get("error", item["msg"]))
            if not message.startswith("invalid") and not isinstance(value, dict):
                message = f"invalid value {shown}: {message}"
        else:
            message = f"invalid value {shown}: {item['msg']}"
        problems.append(errors.Problem(path, message))
    return _drop_union_noise(problems)


def _yaml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _drop_union_noise(problems: list[errors.Problem]) -> list[errors.Problem]:
    # A value checked against `int | str` fails twice, once per member, with the
    # member's name appended to the path; keep one problem per real path.
    seen: dict[str, errors.Problem] = {}
    for problem in problems:
        path = problem.path
        for marker in (
            ".int",
            ".str",
            ".function-after[run(), str]",
            ".constrained-int",
        ):
            path = path.replace(marker, "")
        if path not in seen:
            seen[path] = errors.Problem(path, problem.message)
    return list(seen.values())


def _unknown_field_message(loc: list[Any]) -> str:
    key = loc[-1]
    if key == "template":
        return (
            "templates are not supported; describe the components and workflow directly"
        )
    model = _model_at(Application, loc[:-1])
    if model is None:
        return "unknown field"
    if _field_for_key(model, str(key)) is not None:
        return f"{key!r} repeats a field given in its other spelling; give it once"
    valid = sorted(_spelling(name, info) for name, info in model.model_fields.items())
    return f"unknown field {key!r}; valid fields: {', '.join(valid)}"


def _spelling(name: str, info: Any) -> str:
    """Return the key a request uses for a field: its explicit alias, else camelCase."""
    alias = info.serialization_alias
    return alias if isinstance(alias, str) else _camel(name)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# Request key to field name, per model, filled on first use: models never change.
_FIELDS_BY_KEY: dict[type[BaseModel], dict[str, str]] = {}
# (model, field name) to the request model nested in that field, or None.
_NESTED: dict[tuple[type[BaseModel], str], type[Model] | None] = {}


def _field_for_key(model: type[BaseModel], key: str) -> str | None:
    """Find the field a request key sets, by its alias spellings, never its Python name alone."""
    fields = _FIELDS_BY_KEY.get(model)
    if fields is None:
        fields = {}
        for name, info in model.model_fields.items():
            alias = info.validation_alias
            if alias is not None and hasattr(alias, "choices"):
                choices = [
                    choice for choice in alias.choices if isinstance(choice, str)
                ]
            else:
                choices = [name, _camel(name)]
            for choice in choices:
                fields.setdefault(choice, name)
        _FIELDS_BY_KEY[model] = fields
    return fields.get(key)


def _nested_field_model(model: type[BaseModel], name: str) -> type[Model] | None:
    key = (model, name)
    if key not in _NESTED:
        _NESTED[key] = _nested_model(model.model_fields[name].annotation)
    return _NESTED[key]


def _nested_model(annotation: Any) -> type[Model] | None:
    """Find the request model inside an annotation such as `list[Storage] | None`."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _nested_model(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType, list):
        for argument in typing.get_args(annotation):
            found = _nested_model(argument)
            if found is not None:
                return found
        return None
    if isinstance(annotation, type) and issubclass(annotation, Model):
        return annotation
    return None


def _model_at(model: type[BaseModel] | None, loc: list[Any]) -> type[BaseModel] | None:
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        name = _field_for_key(model, str(part))
        if name is None:
            return None
        model = _nested_model(model.model_fields[name].annotation)
    return model


def _walk_ignored(
    data: Any,
    model: type[Model],
    path: list[str | int],
    warnings: list[str],
    problems: errors.ProblemList,
) -> None:
    """Warn about ignored keys, recursively through the request's models."""
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        if key in model.IGNORED:
            if value is not None:
                where = errors.format_path([*path, key])
                warnings.append(f"{where}: ignored; oamflow does not use this field")
            continue
        name = _field_for_key(model, key)
        if name is None:
            continue
        nested = _nested_field_model(model, name)
        if nested is None or not _may_ignore(nested):
            continue
        if isinstance(value, list):
            for index, item in enumerate(value):
                _walk_ignored(item, nested, [*path, key, index], warnings, problems)
        else:
            _walk_ignored(value, nested, [*path, key], warnings, problems)


_MAY_IGNORE: dict[type[BaseModel], bool] = {}


def _may_ignore(model: type[Model]) -> bool:
    """Whether a model, or one nested in it, has keys to ignore: else no need to walk it."""
    if model not in _MAY_IGNORE:
        _MAY_IGNORE[model] = False  # a guard against models that nest themselves
        nested = (_nested_field_model(model, name) for name in model.model_fields)
        _MAY_IGNORE[model] = bool(model.IGNORED) or any(
            _may_ignore(item) for item in nested if item is not None
        )
    return _MAY_IGNORE[model]
