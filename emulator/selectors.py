"""Label and field selectors, in both the query-string and the structured form.

Query strings follow the syntax of `kubectl get -l`: `a=b`, `a==b`, `a!=b`,
`a in (x,y)`, `a notin (x)`, `a` and `!a`, joined by commas. Field selectors
support `=`, `==` and `!=` on any dotted path such as `metadata.name` or
`status.phase`. Structured selectors are the `matchLabels`/`matchExpressions`
objects found in workload specs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from emulator.errors import bad_request

Predicate = Callable[[Mapping[str, str]], bool]

_SET_TERM = re.compile(r"^\s*(!?)\s*([\w./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQUALITY_TERM = re.compile(r"^\s*([\w./-]+)\s*(==|!=|=)\s*([\w./-]*)\s*$")


def _split_terms(selector: str) -> list[str]:
    """Split a selector at commas that are not inside `in (...)` parentheses."""
    terms: list[str] = []
    depth = 0
    current = ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        terms.append(current)
    return [term for term in terms if term.strip()]


def parse_label_selector(selector: str | None) -> Predicate:
    """Compile a label selector string into a predicate over a labels mapping.

    Raises a 400 `ApiError` when the string is not a valid selector.
    """
    if not selector:
        return lambda labels: True
    predicates: list[Predicate] = []
    for term in _split_terms(selector):
        predicates.append(_parse_label_term(term, selector))
    return lambda labels: all(predicate(labels) for predicate in predicates)


def _parse_label_term(term: str, selector: str) -> Predicate:
    equality = _EQUALITY_TERM.match(term)
    if equality is not None:
        key, operator, value = equality.groups()
        if operator == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    set_term = _SET_TERM.match(term)
    if set_term is None:
        raise bad_request(
            f"unable to parse requirement: invalid label selector {selector!r}"
        )
    negated, key, operator, values_text = set_term.groups()
    if operator is None:
        if negated:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    values = {value.strip() for value in values_text.split(",") if value.strip()}
    if operator == "in":
        return lambda labels: labels.get(key) in values
    return lambda labels: labels.get(key) not in values


def parse_field_selector(selector: str | None) -> Callable[[dict[str, Any]], bool]:
    """Compile a field selector string into a predicate over a whole object."""
    if not selector:
        return lambda obj: True
    checks: list[tuple[list[str], str, str]] = []
    for term in _split_terms(selector):
        match = _EQUALITY_TERM.match(term)
        if match is None:
            raise bad_request(f"invalid field selector {selector!r}")
        path, operator, value = match.groups()
        checks.append((path.split("."), operator, value))

    def predicate(obj: dict[str, Any]) -> bool:
        for path, operator, expected in checks:
            actual = _dig(obj, path)
            text = "" if actual is None else str(actual)
            if (text == expected) != (operator != "!="):
                return False
        return True

    return predicate


def _dig(obj: Any, path: list[str]) -> Any:
    for part in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def match_structured(
    selector: Mapping[str, Any] | None, labels: Mapping[str, str]
) -> bool:
    """Return whether labels satisfy a `matchLabels`/`matchExpressions` selector.

    An empty selector matches everything, as in `metav1.LabelSelector`. A missing
    (None) selector matches nothing.
    """
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key = expression.get("key")
        operator = expression.get("operator")
        values = set(expression.get("values") or [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def format_structured(selector: Mapping[str, Any] | None) -> str:
    """Render a structured selector in query-string form, as `Scale.status.selector`."""
    if not selector:
        return ""
    terms = [
        f"{key}={value}"
        for key, value in sorted((selector.get("matchLabels") or {}).items())
    ]
    for expression in selector.get("matchExpressions") or []:
        key = expression.get("key")
        operator = expression.get("operator")
        values = ",".join(sorted(expression.get("values") or []))
        if operator == "In":
            terms.append(f"{key} in ({values})")
        elif operator == "NotIn":
            terms.append(f"{key} notin ({values})")
        elif operator == "Exists":
            terms.append(str(key))
        elif operator == "DoesNotExist":
            terms.append(f"!{key}")
    return ",".join(terms)
