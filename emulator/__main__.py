"""Command line: `python -m emulator --host 127.0.0.1 --port 0 [options]`.

Prints one line with the URL once the server listens, optionally writes a
kubeconfig and a file holding the URL, and stops cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import signal

from emulator.config import EmulatorConfig
from emulator.logs import BANNER, get_logger
from emulator.serving import ACCESS_LOGGER, serve, write_atomically, write_kubeconfig

log = get_logger("emulator")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m emulator",
        description=f"{BANNER}: serves the Kubernetes API with an emulated one-node control plane.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port to listen on; 0 picks a free port"
    )
    parser.add_argument(
        "--ready-delay",
        type=float,
        default=EmulatorConfig.ready_delay,
        help="seconds until changed workloads report ready (default: %(default)s)",
    )
    parser.add_argument(
        "--kubeconfig", help="write a kubeconfig for the emulator to this path"
    )
    parser.add_argument(
        "--url-file", help="write the emulator's URL to this path once it listens"
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="logging level (default: %(default)s)",
    )
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    config = EmulatorConfig(ready_delay=args.ready_delay)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with serve(args.host, args.port, config) as emulator:
        print(f"{BANNER} listening on {emulator.url}", flush=True)
        if args.kubeconfig:
            write_kubeconfig(args.kubeconfig, emulator.url)
        if args.url_file:
            write_atomically(args.url_file, emulator.url + "\n")
        await stop.wait()
        log.info("received a stop signal; shutting down")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # One line per request is only useful when debugging.
    if args.log_level != "debug":
        logging.getLogger(ACCESS_LOGGER).setLevel(logging.WARNING)
    try:
        is_loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        is_loopback = args.host == "localhost"
    if not is_loopback:
        log.warning(
            "listening on %s, which is not a loopback address; the API has no authentication",
            args.host,
        )
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
