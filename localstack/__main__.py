"""`python -m localstack` runs the local stack; `python -m localstack demo FILE` deploys once.

python -m localstack                 # run until Ctrl-C; deploy from another terminal
python -m localstack demo FILE       # start, deploy FILE, print the outcome, stop
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from localstack import TEMPORAL_PORT, UI_PORT, LocalStack, StackError


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localstack", description="Run oamflow's local stack."
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=("up", "demo"),
        default="up",
        help="up (default) or demo",
    )
    parser.add_argument("file", nargs="?", help="request to deploy (demo only)")
    parser.add_argument(
        "--kubeconfig",
        default=None,
        help="deploy to this cluster instead of the emulator",
    )
    parser.add_argument(
        "--state-dir",
        default=".oamflow",
        help="where the stack keeps its state (default .oamflow)",
    )
    parser.add_argument(
        "--temporal-port",
        type=int,
        default=TEMPORAL_PORT,
        help=f"Temporal's port (default {TEMPORAL_PORT})",
    )
    parser.add_argument(
        "--ui-port",
        type=int,
        default=UI_PORT,
        help=f"the Temporal UI's port (default {UI_PORT})",
    )
    parser.add_argument(
        "--keep-history",
        action="store_true",
        help="keep Temporal's history of earlier runs (the emulator starts empty either way)",
    )
    arguments = parser.parse_args()
    if arguments.command == "demo":
        if not arguments.file:
            parser.error("demo needs a request file, for example examples/mysql.json")
        if not os.path.isfile(arguments.file):
            parser.error(f"cannot read {arguments.file}: no such file")

    stack = LocalStack(
        state_dir=Path(arguments.state_dir),
        kubeconfig=arguments.kubeconfig,
        temporal_port=arguments.temporal_port,
        ui_port=arguments.ui_port,
        keep_history=arguments.keep_history,
    )
    try:
        stack.start()
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        stack.stop()
        return 1

    try:
        if arguments.command == "demo":
            return demo(stack, arguments.file)
        return run_until_stopped(stack)
    finally:
        print("Stopping the local stack…", flush=True)
        stack.stop()


def run_until_stopped(stack: LocalStack) -> int:
    env = stack.environment()
    print("Local stack running. In another terminal, from this folder:")
    print("  source .venv/bin/activate")
    for name in (
        "TEMPORAL_ADDRESS",
        "KUBECONFIG",
        "OAMFLOW_CODEC_KEY_FILE",
        "OAMFLOW_UI_URL",
    ):
        print(f"  export {name}={env[name]}")
    print("  python starter.py deploy examples/guestbook.yaml")
    print("Press Ctrl-C to stop.", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(1.0):
            problem = stack.stopped_part()
            if problem:
                print(
                    f"error: {problem}; stopping the local stack",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
    except KeyboardInterrupt:
        pass
    return 0


def demo(stack: LocalStack, path: str) -> int:
    env = stack.environment()
    print(f"\n$ python starter.py deploy {path}", flush=True)
    code = subprocess.call([sys.executable, "starter.py", "deploy", path], env=env)
    kubectl = shutil.which("kubectl")
    if stack.emulator_url and kubectl:
        print(
            f"\n$ kubectl --server {stack.emulator_url} get deploy,sts,svc,cm,secret,pvc -n default",
            flush=True,
        )
        subprocess.call(
            [
                kubectl,
                "--server",
                stack.emulator_url,
                "get",
                "deploy,sts,svc,cm,secret,pvc",
                "-n",
                "default",
            ],
            env={**os.environ, "KUBECONFIG": os.devnull},
        )
    print(f"\nThe deployment exited with code {code}.", flush=True)
    return code


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
