"""State of the command line, for the message printed when it is interrupted."""

from __future__ import annotations

# (namespace, name) of the deployment being followed, if any.
application: tuple[str, str] | None = None
