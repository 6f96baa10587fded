"""The `if` expressions of workflow steps: a small language over earlier steps' status.

Grammar (whitespace between tokens is free):

    expr       := and ("||" and)*
    and        := unary ("&&" unary)*
    unary      := "!" unary | "(" expr ")" | function | comparison
    function   := ("always" | "success" | "failure") "(" ")"   |   "always"
    comparison := "steps." NAME ".status" ("==" | "!=") STRING

`success()` is true when every step this one depends on succeeded (the default when
a step has no `if`), `failure()` when at least one of them failed, `always()` always.
A comparison reads the final status of a named step: "succeeded", "failed" or
"skipped". Parsing and evaluation are pure, so the workflow evaluates conditions
deterministically from the statuses it recorded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

STATUSES = ("succeeded", "failed", "skipped")
FUNCTIONS = ("always", "success", "failure")
MAX_LENGTH = 1024

_TOKEN = re.compile(
    r"\s*(?:(?P<op>\|\||&&|==|!=|!|\(|\))"
    r"|(?P<step>steps\.(?P<name>[a-z0-9]([-a-z0-9]*[a-z0-9])?)\.status)"
    r"|(?P<function>[a-z]+)"
    r"|(?P<string>'[^']*'|\"[^\"]*\"))"
)


class ConditionError(ValueError):
    """An `if` expression that cannot be parsed; the message says where and why."""


@dataclass(frozen=True)
class Call:
    function: str


@dataclass(frozen=True)
class Compare:
    step: str
    equal: bool
    status: str


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class BoolOp:
    op: str
    operands: tuple[Node, ...]


Node = Call | Compare | Not | BoolOp


def parse(text: str) -> Node:
    """Parse an expression; raise ConditionError naming the offending position."""
    if len(text) > MAX_LENGTH:
        raise ConditionError(
            f"is {len(text)} characters long; the limit is {MAX_LENGTH}"
        )
    if text.strip() == "always":
        return Call("always")
    tokens = _tokenize(text)
    parser = _Parser(tokens, text)
    node = parser.expression(depth=0)
    if parser.position != len(tokens):
        raise ConditionError(f"unexpected {tokens[parser.position][1]!r} in {text!r}")
    return node


def referenced_steps(node: Node) -> list[str]:
    """Names of the steps an expression reads, in order of appearance."""
    if isinstance(node, Compare):
        return [node.step]
    if isinstance(node, Not):
        return referenced_steps(node.operand)
    if isinstance(node, BoolOp):
        return [name for operand in node.operands for name in referenced_steps(operand)]
    return []


def evaluate(
    node: Node, dependencies: Sequence[str], statuses: Mapping[str, str]
) -> bool:
    """Evaluate against the final statuses of steps; missing statuses count as skipped."""
    if isinstance(node, Call):
        if node.function == "always":
            return True
        upstream = [statuses.get(name, "skipped") for name in dependencies]
        if node.function == "success":
            return all(status == "succeeded" for status in upstream)
        return any(status == "failed" for status in upstream)
    if isinstance(node, Compare):
        matches = statuses.get(node.step, "skipped") == node.status
        return matches if node.equal else not matches
    if isinstance(node, Not):
        return not evaluate(node.operand, dependencies, statuses)
    results = (evaluate(operand, dependencies, statuses) for operand in node.operands)
    return all(results) if node.op == "&&" else any(results)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ConditionError(
                f"cannot read {text[position:].strip()[:20]!r} at character {position + 1};"
                " expected always(), success(), failure(), steps.NAME.status == 'STATUS',"
                " !, &&, || or parentheses"
            )
        if match.group("op"):
            tokens.append(("op", match.group("op")))
        elif match.group("step"):
            tokens.append(("step", match.group("name")))
        elif match.group("function"):
            tokens.append(("function", match.group("function")))
        else:
            tokens.append(("string", match.group("string")[1:-1]))
        position = match.end()
    if not tokens:
        raise ConditionError("is empty")
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.position = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, kind: str, value: str | None = None) -> str:
        token = self.peek()
        if (
            token is None
            or token[0] != kind
            or (value is not None and token[1] != value)
        ):
            found = "the end" if token is None else repr(token[1])
            wanted = repr(value) if value else kind
            raise ConditionError(
                f"expected {wanted} but found {found} in {self.text!r}"
            )
        self.position += 1
        return token[1]

    def expression(self, depth: int) -> Node:
        if depth > 32:
            raise ConditionError("is nested too deeply")
        operands = [self.conjunction(depth)]
        while self.peek() == ("op", "||"):
            self.position += 1
            operands.append(self.conjunction(depth))
        return operands[0] if len(operands) == 1 else BoolOp("||", tuple(operands))

    def conjunction(self, depth: int) -> Node:
        operands = [self.unary(depth)]
        while self.peek() == ("op", "&&"):
            self.position += 1
            operands.append(self.unary(depth))
        return operands[0] if len(operands) == 1 else BoolOp("&&", tuple(operands))

    def unary(self, depth: int) -> Node:
        token = self.peek()
        if token == ("op", "!"):
            self.position += 1
            return Not(self.unary(depth + 1))
        if token == ("op", "("):
            self.position += 1
            node = self.expression(depth + 1)
            self.take("op", ")")
            return node
        if token is not None and token[0] == "function":
            name = self.take("function")
            if name not in FUNCTIONS:
                raise ConditionError(
                    f"unknown function {name!r}; valid choices: {', '.join(FUNCTIONS)}"
                )
            self.take("op", "(")
            self.take("op", ")")
            return Call(name)
        if token is not None and token[0] == "step":
            step = self.take("step")
            operator = self.peek()
            if operator not in (("op", "=="), ("op", "!=")):
                raise ConditionError(
                    f"expected == or != after steps.{step}.status in {self.text!r}"
                )
            self.position += 1
            status = self.take("string")
            if status not in STATUSES:
                raise ConditionError(
                    f"invalid status {status!r}; valid choices: {', '.join(STATUSES)}"
                )
            return Compare(step, operator[1] == "==", status)
        found = "the end" if token is None else repr(token[1])
        raise ConditionError(
            f"expected always(), success(), failure() or steps.NAME.status but found {found}"
            f" in {self.text!r}"
        )
