"""Argument parsing and dispatch for every command, with the exit-code contract."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable

import oam
from cli import planview
from cli import state as watching_state
from cli.errors import CommandError, UsageError
from clients.codec import CodecKeyError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


EPILOG = """\
exit codes:
  0    success (for status: succeeded or still running)
  1    the deployment failed, was cancelled, or its outcome is unknown
  2    invalid request, invalid usage, or an unknown application
  130  interrupted (Ctrl-C); a deployment being watched goes on

environment:
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE
                           Temporal connection (default localhost:7233, namespace default)
  OAMFLOW_TASK_QUEUE       task queue of the workers (default oamflow)
  OAMFLOW_CODEC_KEY, OAMFLOW_CODEC_KEY_FILE
                           AES-256 key (base64) that encrypts payloads in Temporal
  OAMFLOW_UI_URL           base URL of the Temporal UI in printed links (default http://localhost:8233)
  OAMFLOW_DEFAULT_TIMEOUT  seconds an object may take to become ready (default 300)
  OAMFLOW_HEARTBEAT_TIMEOUT  seconds before a silent worker's activity is retried elsewhere (default 30)
  OAMFLOW_BACKOFF_GRACE    seconds pods may stay in image-pull or crash back-off (default 30)
  OAMFLOW_POLL_INTERVAL    longest pause between readiness checks, seconds (default 1)
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}\n{self.format_usage().strip()}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="starter.py",
        description="Deploy applications to Kubernetes as durable Temporal workflows.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser
    )
    commands.required = True

    deploy = commands.add_parser(
        "deploy", help="validate a request, deploy it and follow its progress"
    )
    deploy.add_argument(
        "file", help="application request (JSON or YAML); '-' reads standard input"
    )
    deploy.add_argument(
        "--detach",
        action="store_true",
        help="start the deployment and return without following it",
    )
    deploy.add_argument(
        "--output",
        "-o",
        choices=("text", "json"),
        default="text",
        help="format of the final report; with json, progress lines go to standard error",
    )

    plan = commands.add_parser(
        "plan", help="show the execution plan (no cluster or Temporal needed)"
    )
    plan.add_argument(
        "file", help="application request (JSON or YAML); '-' reads standard input"
    )
    plan.add_argument(
        "--output",
        "-o",
        choices=("table", "text", "json"),
        default="table",
        help="output format",
    )

    render = commands.add_parser(
        "render", help="print the manifests as multi-document YAML"
    )
    render.add_argument(
        "file", help="application request (JSON or YAML); '-' reads standard input"
    )

    for name, text in (
        ("status", "show a deployment's progress per step, tier and job"),
        ("retry", "re-run a failed or cancelled deployment from where it failed"),
        ("cancel", "cancel a running deployment and report what was applied"),
        ("approve", "approve (or reject) a step that waits for approval"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("app", help="application name, or NAMESPACE/NAME")
        command.add_argument(
            "--namespace",
            "-n",
            default=None,
            help="the application's namespace (default: default)",
        )
        if name == "status":
            command.add_argument(
                "--output",
                "-o",
                choices=("text", "json"),
                default="text",
                help="output format",
            )
            command.add_argument(
                "--follow",
                "-f",
                action="store_true",
                help="keep watching until the deployment ends",
            )
        if name == "retry":
            command.add_argument(
                "--file",
                default=None,
                help="a corrected request to retry with (default: the failed run's request)",
            )
            command.add_argument(
                "--detach",
                action="store_true",
                help="start the retry and return without following it",
            )
        if name == "approve":
            command.add_argument(
                "--step",
                default=None,
                help="the approval step (default: the one waiting)",
            )
            command.add_argument(
                "--reject",
                action="store_true",
                help="reject instead of approve: the deployment fails",
            )
            command.add_argument(
                "--reason", default="", help="text recorded with the decision"
            )

    listing = commands.add_parser(
        "list", help="list recent deployments and their state"
    )
    listing.add_argument("--namespace", "-n", default=None, help="only this namespace")
    listing.add_argument("--project", default=None, help="only this project")
    listing.add_argument(
        "--limit",
        type=int,
        default=20,
        help="at most this many deployments (default 20)",
    )
    listing.add_argument(
        "--output", "-o", choices=("text", "json"), default="text", help="output format"
    )

    codec = commands.add_parser(
        "codec-server", help="serve payload decoding for the Temporal UI"
    )
    codec.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    codec.add_argument(
        "--port", type=int, default=8081, help="port to listen on (default 8081)"
    )
    codec.add_argument(
        "--cors-origin",
        default="http://localhost:8233",
        help="the Temporal UI's origin allowed to call it",
    )
    return parser


def run(argv: list[str]) -> int:
    """Run one command and return its exit code; never lets a traceback reach the user."""
    logging.basicConfig(
        level=os.environ.get("OAMFLOW_LOG_LEVEL", "WARNING").upper(),
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        arguments = build_parser().parse_args(argv)
        handler = _HANDLERS[arguments.command]
        return handler(arguments)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except oam.InvalidRequest as error:
        print(str(error), file=sys.stderr)
        return EXIT_USAGE
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except CodecKeyError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(interrupted_message(), file=sys.stderr)
        return 130
    except (
        Exception
    ) as error:  # the last line of defence: report, never dump a traceback
        if os.environ.get("OAMFLOW_DEBUG"):
            traceback.print_exc()
        print(
            f"error: unexpected {type(error).__name__}: {error}\n"
            "Set OAMFLOW_DEBUG=1 to see the traceback, and report it if it persists.",
            file=sys.stderr,
        )
        return EXIT_FAILED


def interrupted_message() -> str:
    """Describe what Ctrl-C stopped: only the watching, never the deployment itself."""
    if watching_state.application is None:
        return "interrupted"
    namespace, name = watching_state.application
    app = name if namespace == "default" else f"{namespace}/{name}"
    return (
        "interrupted: stopped watching; the deployment goes on in Temporal and the workers."
        f" Watch it again with: python starter.py status {app} --follow"
        f" (or stop it with: python starter.py cancel {app})"
    )


def read_request(path: str) -> oam.LoadedApplication:
    """Read and validate a request file; warnings go to standard error."""
    if path == "-":
        text = sys.stdin.buffer.read(oam.loading.MAX_REQUEST_BYTES + 1)
        source = "standard input"
    else:
        try:
            with open(path, "rb") as handle:
                text = handle.read(oam.loading.MAX_REQUEST_BYTES + 1)
        except OSError as error:
            raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
        source = path
    loaded = oam.load_application(text, source)
    for warning in loaded.warnings:
        print(f"warning: {source}: {warning}", file=sys.stderr)
    return loaded


def _plan(arguments: argparse.Namespace) -> int:
    loaded = read_request(arguments.file)
    plan = loaded.plan()
    if arguments.output == "json":
        print(planview.plan_json(plan))
    else:
        print(planview.plan_table(plan, loaded.application))
    return EXIT_OK


def _render(arguments: argparse.Namespace) -> int:
    loaded = read_request(arguments.file)
    plan = loaded.plan()
    sys.stdout.write(planview.manifests_yaml(plan))
    return EXIT_OK


def _temporal_command(name: str) -> Callable[[argparse.Namespace], int]:
    def handler(arguments: argparse.Namespace) -> int:
        from cli import commands  # imports temporalio only for commands that need it

        return getattr(commands, name)(arguments)

    return handler


_HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "plan": _plan,
    "render": _render,
    "deploy": _temporal_command("deploy"),
    "status": _temporal_command("status"),
    "list": _temporal_command("list_deployments"),
    "retry": _temporal_command("retry"),
    "cancel": _temporal_command("cancel"),
    "approve": _temporal_command("approve"),
    "codec-server": _temporal_command("codec_server"),
}
