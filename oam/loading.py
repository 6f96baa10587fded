"""From request text to a validated `Application`, with every problem collected.

`load_application` is the single entry point used by the CLI and the tests. It takes
text (never a path: reading files is the caller's job, which keeps this package free
of I/O), parses JSON or YAML with limits on size and nesting, parses the models, runs
the cross-field checks of `oam.validation`, and returns the application together with
warnings about keys it ignored.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Union

import yaml
from pydantic import BaseModel, ValidationError

from oam import errors, validation
from oam.model import Application, Model

MAX_REQUEST_BYTES = 32 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 2_000_000


@dataclass
class LoadedApplication:
    application: Application
    warnings: list[str] = field(default_factory=list)


def load_application(text: str | bytes, source: str = "request") -> LoadedApplication:
    """Parse and validate a request; raise `errors.InvalidRequest` with all problems."""
    data = parse_document(text, source)
    return validate_document(data, source)


def validate_document(data: Any, source: str = "request") -> LoadedApplication:
    """Validate already parsed request data (a mapping from JSON or YAML)."""
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
        for problem in describe_validation_error(error):
            problems.items.append(problem)
        problems.raise_if_any(source)
        raise  # pragma: no cover - describe_validation_error always yields problems
    problems.raise_if_any(source)

    validation.check_application(application, problems, warnings)
    problems.raise_if_any(source)
    return LoadedApplication(application, warnings)


def parse_document(text: str | bytes, source: str = "request") -> Any:
    """Parse JSON or YAML text, rejecting oversized, too deep or unparseable input."""
    size = len(text)
    if size > MAX_REQUEST_BYTES:
        raise errors.InvalidRequest(
            [
                errors.Problem(
                    "(request)",
                    f"is {size} bytes; the limit is {MAX_REQUEST_BYTES} bytes",
                )
            ],
            source,
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise errors.InvalidRequest(
                [
                    errors.Problem(
                        "(request)", f"is not UTF-8 text (byte {error.start})"
                    )
                ],
                source,
            ) from None

    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        data = _parse_json(text, source)
    else:
        data = _parse_yaml(text, source)
    _check_shape(data, source)
    return data


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        problem = (
            f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        )
    except RecursionError:
        problem = f"invalid JSON: nested deeper than {MAX_DEPTH} levels"
    raise errors.InvalidRequest([errors.Problem("(request)", problem)], source)


class _BoundedLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses deep nesting and alias bombs while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        self._depth += 1
        self._nodes += 1
        if self._depth > MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise yaml.YAMLError(
                f"nested deeper than {MAX_DEPTH} levels at line {mark.line + 1}, column {mark.column + 1}"
            )
        if self._nodes > MAX_NODES:
            raise yaml.YAMLError(f"has more than {MAX_NODES} values")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _parse_yaml(text: str, source: str) -> Any:
    loader = _BoundedLoader(text)
    try:
        documents = []
        while loader.check_data():
            documents.append(loader.get_data())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = error.problem or error.context or "unparseable"
        problem = f"invalid YAML{where}: {reason}"
        raise errors.InvalidRequest(
            [errors.Problem("(request)", problem)], source
        ) from None
    except (yaml.YAMLError, RecursionError) as error:
        problem = (
            f"invalid YAML: {error}"
            if isinstance(error, yaml.YAMLError)
            else (f"invalid YAML: nested deeper than {MAX_DEPTH} levels")
        )
        raise errors.InvalidRequest(
            [errors.Problem("(request)", problem)], source
        ) from None
    finally:
        loader.dispose()
    if len(documents) > 1:
        raise errors.InvalidRequest(
            [
                errors.Problem(
                    "(request)",
                    f"has {len(documents)} YAML documents; give one application per file",
                )
            ],
            source,
        )
    return documents[0] if documents else None


def _check_shape(data: Any, source: str) -> None:
    """Count values and depth iteratively, so YAML aliases cannot expand without bound."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if depth > MAX_DEPTH:
            raise errors.InvalidRequest(
                [
                    errors.Problem(
                        "(request)", f"is nested deeper than {MAX_DEPTH} levels"
                    )
                ],
                source,
            )
        if seen > MAX_NODES:
            raise errors.InvalidRequest(
                [
                    errors.Problem(
                        "(request)",
                        f"has more than {MAX_NODES} values (after expanding YAML aliases)",
                    )
                ],
                source,
            )
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise errors.InvalidRequest(
                        [
                            errors.Problem(
                                "(request)",
                                f"has a non-string key {errors.show_value(key)}; quote it",
                            )
                        ],
                        source,
                    )
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


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


def describe_validation_error(error: ValidationError) -> list[errors.Problem]:
    """Turn pydantic's errors into problems that name the path, the value and the choices."""
    problems = []
    for item in error.errors(include_url=False):
        loc = list(item["loc"])
        path = errors.format_path(loc)
        kind = item["type"]
        value = item.get("input")
        shown = errors.show_value(value)
        ctx = item.get("ctx") or {}

        if kind == "missing":
            message = "is required but missing"
        elif kind == "extra_forbidden":
            message = _unknown_field_message(loc)
        elif kind in _TYPE_NAMES:
            message = f"expected {_TYPE_NAMES[kind]}, got {shown}"
            if kind == "string_type" and isinstance(value, bool | int | float):
                message += f'; quote it to make it a string: "{_yaml_text(value)}"'
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
    valid = sorted({_camel(name) for name in model.model_fields})
    snake = _snake(str(key))
    if snake in model.model_fields or any(_camel(n) == key for n in model.model_fields):
        return f"{key!r} repeats a field given in its other spelling; give it once"
    return f"unknown field {key!r}; valid fields: {', '.join(valid)}"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _snake(name: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in name)


def _field_for_key(model: type[BaseModel], key: str) -> str | None:
    for name, info in model.model_fields.items():
        choices = {name, _camel(name)}
        alias = info.validation_alias
        if alias is not None and hasattr(alias, "choices"):
            choices |= {choice for choice in alias.choices if isinstance(choice, str)}
        if key in choices:
            return name
    return None


def _nested_model(annotation: Any) -> type[Model] | None:
    """The request model inside an annotation such as `list[Storage] | None`."""
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
        nested = _nested_model(model.model_fields[name].annotation)
        if nested is None:
            continue
        if isinstance(value, list):
            for index, item in enumerate(value):
                _walk_ignored(item, nested, [*path, key, index], warnings, problems)
        else:
            _walk_ignored(value, nested, [*path, key], warnings, problems)
