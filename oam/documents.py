"""Request text into data: JSON or YAML, with limits that hostile input cannot pass.

Both formats are checked for size, nesting depth and the number of values (YAML
aliases count once per use, so an alias bomb is rejected before it expands).
Duplicate keys are errors: YAML requires unique keys, and letting the last value
win would deploy something other than what a reader sees. YAML dates stay text
(`2024-01-15` is that string), because a date in a request is meant as text. For
YAML scalars that are not strings (numbers, booleans, null) the text as written
is kept by path, so an error can suggest `quote it: "1.10"` rather than show the
parsed `1.1`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from oam import errors

MAX_REQUEST_BYTES = 32 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 2_000_000
STRING_TAG = "tag:yaml.org,2002:str"

Path = tuple[str | int, ...]


@dataclass
class Document:
    data: Any
    # The source text of YAML scalars that did not load as strings, by path.
    scalar_text: dict[Path, str] = field(default_factory=dict)


def _reject(message: str, source: str) -> errors.InvalidRequest:
    return errors.InvalidRequest([errors.Problem("(request)", message)], source)


def parse(text: str | bytes, source: str = "request") -> Document:
    """Parse JSON (text starting with `{` or `[`) or YAML, within the limits above."""
    if len(text) > MAX_REQUEST_BYTES:
        raise _reject(f"is larger than the limit of {MAX_REQUEST_BYTES} bytes", source)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _reject(f"is not UTF-8 text (byte {error.start})", source) from None

    if text.lstrip().startswith(("{", "[")):
        document = Document(_parse_json(text, source))
        aliases = ""
    else:
        document = _parse_yaml(text, source)
        aliases = " (after expanding YAML aliases)"
    _check_shape(document.data, source, aliases)
    return document


class _DuplicateKey(ValueError):
    pass


def _pairs_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_pairs_without_duplicates)
    except _DuplicateKey as error:
        problem = f"invalid JSON: duplicate key {str(error)!r} in one object; give each key once"
    except json.JSONDecodeError as error:
        problem = (
            f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        )
    except RecursionError:
        problem = f"invalid JSON: nested deeper than {MAX_DEPTH} levels"
    raise _reject(problem, source)


class _Loader(yaml.SafeLoader):
    """Safe YAML loading with bounded depth and size, unique keys and dates as text."""

    # Dates and times load as the text written.
    yaml_implicit_resolvers = {
        first: [
            (tag, pattern)
            for tag, pattern in resolvers
            if tag != "tag:yaml.org,2002:timestamp"
        ]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

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

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                continue  # reported as an unhashable key by the base class
            if key in seen:
                first = seen[key]
                raise yaml.MarkedYAMLError(
                    problem=f"duplicate key {key!r} (first at line {first.line + 1}); give each key once",
                    problem_mark=key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _parse_yaml(text: str, source: str) -> Document:
    loader = _Loader(text)
    try:
        documents = []
        while loader.check_node():
            node = loader.get_node()
            documents.append((node, loader.construct_document(node)))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise _reject(
            f"invalid YAML{where}: {error.problem or error.context or 'unparseable'}",
            source,
        ) from None
    except yaml.YAMLError as error:
        raise _reject(f"invalid YAML: {error}", source) from None
    except RecursionError:
        raise _reject(
            f"invalid YAML: nested deeper than {MAX_DEPTH} levels", source
        ) from None
    finally:
        loader.dispose()
    if len(documents) > 1:
        raise _reject(
            f"has {len(documents)} YAML documents; give one application per file",
            source,
        )
    if not documents:
        return Document(None)
    node, data = documents[0]
    return Document(data, _scalar_text(node))


def _scalar_text(root: Any) -> dict[Path, str]:
    """Source text of non-string scalars by path, walking nodes iteratively."""
    found: dict[Path, str] = {}
    stack: list[tuple[Any, Path]] = [(root, ())]
    visited = 0
    while stack and visited < MAX_NODES:
        node, path = stack.pop()
        visited += 1
        if isinstance(node, yaml.ScalarNode):
            if node.tag != STRING_TAG:
                found[path] = node.value
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(
                (item, (*path, index)) for index, item in enumerate(node.value)
            )
        elif isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    stack.append((value_node, (*path, key_node.value)))
    return found


def _check_shape(data: Any, source: str, aliases: str) -> None:
    """Count values and depth iteratively, so YAML aliases cannot expand without bound."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if depth > MAX_DEPTH:
            raise _reject(f"is nested deeper than {MAX_DEPTH} levels", source)
        if seen > MAX_NODES:
            raise _reject(f"has more than {MAX_NODES} values{aliases}", source)
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise _reject(
                        f"has a non-string key {errors.show_value(key)}; quote it",
                        source,
                    )
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
