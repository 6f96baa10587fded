"""Problems found in an application request, collected rather than raised one by one.

Validation never stops at the first mistake: every check appends a `Problem` that
names the path of the offending value (`workflow[1].components[1]`), the value and
what would be accepted. The caller raises `InvalidRequest` once with all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_SHOWN_VALUE = 80


def format_path(parts: Iterable[str | int]) -> str:
    """Join path parts as `component[0].traits.storage[1].size`."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text:
            text += f".{part}"
        else:
            text = part
    return text or "(request)"


def show_value(value: object) -> str:
    """Render a value for an error message, shortened so hostile input stays readable."""
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, dict):
        text = "a mapping"
    elif isinstance(value, list):
        text = f"a list of {len(value)}"
    else:
        text = repr(value)
    if len(text) > MAX_SHOWN_VALUE:
        text = text[: MAX_SHOWN_VALUE - 5] + "…" + text[-4:]
    return text


@dataclass(frozen=True)
class Problem:
    """One reason a request is rejected: where, and what is wrong there."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class InvalidRequest(Exception):
    """Raised with every problem found, so one run of the validator reports them all."""

    def __init__(self, problems: Sequence[Problem], source: str = "request") -> None:
        self.problems = list(problems)
        self.source = source
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"{source} is invalid ({count} {noun}):"]
        lines += [f"  {problem}" for problem in self.problems]
        super().__init__("\n".join(lines))


class ProblemList:
    """An accumulator that checks append to; `raise_if_any` ends validation."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, path: str | Sequence[str | int], message: str) -> None:
        text = path if isinstance(path, str) else format_path(path)
        self.items.append(Problem(text, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self, source: str = "request") -> None:
        if self.items:
            raise InvalidRequest(self.items, source)
