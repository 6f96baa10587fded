"""Running the emulator on a TCP port, and writing a kubeconfig that points at it.

The server is aiohttp's low-level `web.Server` with the emulator as its handler.
kmock's own `Server` is not used because it installs a process-wide DNS
interceptor into aiohttp that must be exited in reverse order of entry, which
breaks when several emulators run in one process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp.web
import yaml

from emulator.config import EmulatorConfig
from emulator.logs import BANNER, get_logger
from emulator.server import Emulator

log = get_logger(__name__)

KUBECONFIG_NAME = "oamflow-emulator"
ACCESS_LOGGER = "emulator.access"
ACCESS_LOG_FORMAT = f'{BANNER}: %a "%r" %s %b %Tfs'


@contextlib.asynccontextmanager
async def serve(
    host: str = "127.0.0.1", port: int = 0, config: EmulatorConfig | None = None
) -> AsyncIterator[Emulator]:
    """Run an emulator in the current event loop; yield it with `url` set.

    `port=0` picks a free port. The server stops, and open watches end, when the
    context exits.
    """
    emulator = Emulator(config=config or EmulatorConfig())
    async with emulator:
        server = aiohttp.web.Server(
            emulator,
            access_log=logging.getLogger(ACCESS_LOGGER),
            access_log_format=ACCESS_LOG_FORMAT,
        )
        runner = aiohttp.web.ServerRunner(server, shutdown_timeout=1.0)
        await runner.setup()
        site = aiohttp.web.TCPSite(runner, host, port)
        try:
            await site.start()
            bound_host, bound_port = runner.addresses[0][:2]
            url_host = f"[{bound_host}]" if ":" in bound_host else bound_host
            emulator.set_url(f"http://{url_host}:{bound_port}")
            log.info("serving on %s", emulator.url)
            yield emulator
        finally:
            emulator.store.close_watches()
            await runner.cleanup()
            log.info("stopped serving on %s", emulator._url)


def kubeconfig(url: str) -> dict[str, object]:
    """Build a kubeconfig whose cluster, user and context are all `oamflow-emulator`."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": KUBECONFIG_NAME, "cluster": {"server": url}}],
        "users": [{"name": KUBECONFIG_NAME, "user": {}}],
        "contexts": [
            {
                "name": KUBECONFIG_NAME,
                "context": {
                    "cluster": KUBECONFIG_NAME,
                    "user": KUBECONFIG_NAME,
                    "namespace": "default",
                },
            }
        ],
        "current-context": KUBECONFIG_NAME,
        "preferences": {},
    }


def write_atomically(path: str | Path, text: str) -> None:
    """Write a file through a temporary file and a rename, so readers never see it half written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}."
    )
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_kubeconfig(path: str | Path, url: str) -> None:
    write_atomically(path, yaml.safe_dump(kubeconfig(url), sort_keys=False))
