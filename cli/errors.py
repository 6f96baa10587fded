"""Errors the commands raise to end with a message and an exit code."""

from __future__ import annotations


class CommandError(Exception):
    """A command cannot complete; the message explains why and what to do."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(CommandError):
    """Bad arguments or input: exit code 2."""

    exit_code = 2
