"""Request text into data: JSON or YAML, with limits that hostile input cannot pass.

Both formats are checked for size, nesting depth and the number of values (YAML
aliases count once per use, so an alias bomb is rejected before it expands).
Duplicate keys are errors: YAML requires unique keys, and letting the last value
win would deploy something other than what a reader of the file expects. YAML dates stay text
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
# Loading YAML costs about 10 µs and 500 bytes per value before any check can run.
# So YAML text is bounded by lines and flow items up front: a file of 200,000
# lines took 4.5 s and 230 MB to reject (measured on a 2-core x86_64 machine).
MAX_YAML_LINES = 200_000
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
    """Parse JSON or YAML, within the limits above.

    A `.json` source is JSON and a `.yaml` or `.yml` source is YAML. Otherwise (for
    example standard input) text starting with `{` or `[` is tried as JSON first.
    """
    if len(text) > MAX_REQUEST_BYTES:
        raise _reject(f"is larger than the limit of {MAX_REQUEST_BYTES} bytes", source)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _reject(f"is not UTF-8 text (byte {error.start})", source) from None

    suffix = source.lower().rsplit(".", 1)[-1] if "." in source else ""
    if suffix == "json":
        document = Document(_parse_json(text, source))
    elif suffix in ("yaml", "yml"):
        document = _parse_yaml(text, source)
    elif text.lstrip().startswith(("{", "[")):
        try:
            document = Document(_parse_json(text, source))
        except errors.InvalidRequest as json_error:
            # YAML flow style (`{a: 1}`) starts like JSON; if it parses as YAML, use it.
            try:
                document = _parse_yaml(text, source)
            except errors.InvalidRequest:
                raise json_error from None
    else:
        document = _parse_yaml(text, source)
    if type(document.data) in (dict, list):
        _check_shape(document.data, source)
    return document


class _DuplicateKey(ValueError):
    pass


def _pairs_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
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


# Dates and times load as the text written.
_RESOLVERS = {
    first: [
        (tag, pattern)
        for tag, pattern in resolvers
        if tag != "tag:yaml.org,2002:timestamp"
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _PythonLoader(yaml.SafeLoader):
    """PyYAML's own parser, with a nesting limit checked while it composes."""

    yaml_implicit_resolvers = _RESOLVERS

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.MarkedYAMLError(
                    problem=f"nested deeper than {MAX_DEPTH} levels", problem_mark=mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_C_LOADER: type | None = None
_C_LOADER_CHECKED = False


def _loader_class() -> type:
    """libyaml's parser when it limits nesting itself, else PyYAML's own.

    libyaml composes recursively in C. PyYAML 6.0.4 caps nesting at 1,000
    levels there; older builds have no cap, and deeply nested input would
    crash the interpreter, so they get the slower parser with its own limit.
    """
    global _C_LOADER, _C_LOADER_CHECKED
    if not _C_LOADER_CHECKED:
        _C_LOADER_CHECKED = True
        c_loader = getattr(yaml, "CSafeLoader", None)
        if c_loader is not None:
            try:
                yaml.compose("[" * 1100 + "]" * 1100, Loader=c_loader)
            except yaml.YAMLError:
                _C_LOADER = type(
                    "_CLoader", (c_loader,), {"yaml_implicit_resolvers": _RESOLVERS}
                )
    return _C_LOADER or _PythonLoader


def _yaml_problem(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = error.problem or error.context or "unparseable"
        if "maximum nesting depth" in problem:
            problem = f"nested deeper than {MAX_DEPTH} levels"
        return f"invalid YAML{where}: {problem}"
    return f"invalid YAML: {' '.join(str(error).split())}"


def _parse_yaml(text: str, source: str) -> Document:
    lines = text.count("\n") + text.count(",")
    if lines > MAX_YAML_LINES:
        raise _reject(
            f"has {lines} YAML lines and flow items; the limit is {MAX_YAML_LINES}"
            " (write very large requests as JSON, which parses faster)",
            source,
        )
    try:
        loader = _loader_class()(text)
    except yaml.YAMLError as error:  # the reader rejects control characters up front
        raise _reject(_yaml_problem(error), source) from None
    try:
        nodes = []
        while loader.check_node():
            nodes.append(loader.get_node())
            if len(nodes) > 1:
                raise _reject(
                    "has more than one YAML document; give one application per file",
                    source,
                )
        if not nodes:
            return Document(None)
        scalar_text = _inspect(nodes[0], source)
        data = loader.construct_document(nodes[0])
    except yaml.YAMLError as error:
        raise _reject(_yaml_problem(error), source) from None
    except RecursionError:
        raise _reject(
            f"invalid YAML: nested deeper than {MAX_DEPTH} levels", source
        ) from None
    finally:
        loader.dispose()
    return Document(data, scalar_text)


def _inspect(root: Any, source: str) -> dict[Path, str]:
    """Check a YAML node graph before constructing it; return non-string scalars' text.

    Walks iteratively, counting every visit (so aliases count once per use), and
    rejects graphs deeper than MAX_DEPTH (which includes recursive aliases), with
    more than MAX_NODES values, or with a duplicate key in a mapping.
    """
    found: dict[Path, str] = {}
    stack: list[tuple[Any, Path]] = [(root, ())]
    visited = 0
    while stack:
        node, path = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            raise _reject(
                f"has more than {MAX_NODES} values (after expanding YAML aliases)",
                source,
            )
        if len(path) >= MAX_DEPTH:
            mark = node.start_mark
            raise _reject(
                f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: nested deeper than"
                f" {MAX_DEPTH} levels (or an alias that contains itself)",
                source,
            )
        if isinstance(node, yaml.ScalarNode):
            if node.tag != STRING_TAG:
                found[path] = node.value
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(
                (item, (*path, index)) for index, item in enumerate(node.value)
            )
        elif isinstance(node, yaml.MappingNode):
            seen: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    key = key_node.value
                    if key in seen:
                        mark = key_node.start_mark
                        raise _reject(
                            f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: duplicate key"
                            f" {key!r} (first at line {seen[key].line + 1}); give each key once",
                            source,
                        )
                    seen[key] = key_node.start_mark
                stack.append((value_node, (*path, getattr(key_node, "value", ""))))
    return found


def _check_shape(data: Any, source: str) -> None:
    """Check depth, value count and key types, walking only the containers."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    seen = 1
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _reject(f"is nested deeper than {MAX_DEPTH} levels", source)
        if type(value) is dict:
            children = value.values()
            for key in value:
                if type(key) is not str:
                    raise _reject(
                        f"has a non-string key {errors.show_value(key)}; quote it",
                        source,
                    )
        else:
            children = value
        seen += len(children)
        if seen > MAX_NODES:
            raise _reject(f"has more than {MAX_NODES} values", source)
        stack.extend(
            (child, depth + 1) for child in children if type(child) in (dict, list)
        )
