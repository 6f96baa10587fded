"""The operator's command line: `python starter.py COMMAND`.

Exit codes: 0 success, 1 the deployment failed (or its outcome is unknown),
2 invalid input or usage. Output is flushed and the process leaves through
`os._exit`, because the Temporal client's native runtime can abort the interpreter
during normal shutdown, which would turn a finished command into exit code 134.
"""

from __future__ import annotations

import os
import signal
import sys

from cli.main import run


def main(argv: list[str] | None = None) -> None:
    # Like other Unix tools, end quietly when a reader such as `head` closes the pipe.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    code = run(sys.argv[1:] if argv is None else argv)
    exit_now(code)


def exit_now(code: int) -> None:
    """Flush standard streams and end the process with `code`, skipping interpreter teardown."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
