"""The layers stay where the layout says: a pure model, orchestration, Kubernetes I/O."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]

# What oam/ may import: itself, pydantic, PyYAML and standard modules without I/O.
PURE_IMPORTS = {
    "__future__",
    "base64",
    "contextlib",
    "gc",
    "collections",
    "copy",
    "dataclasses",
    "decimal",
    "enum",
    "itertools",
    "json",
    "math",
    "oam",
    "pydantic",
    "re",
    "types",
    "typing",
    "yaml",
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_model_imports_only_pure_modules() -> None:
    for path in sorted((REPOSITORY / "oam").rglob("*.py")):
        unexpected = imported_modules(path) - PURE_IMPORTS
        assert not unexpected, (
            f"{path.relative_to(REPOSITORY)} imports {sorted(unexpected)}"
        )


def test_model_import_loads_no_client_or_network_library() -> None:
    probe = (
        "import sys, oam\n"
        "loaded = {name.split('.')[0] for name in sys.modules}\n"
        "print(sorted(loaded & {'kubernetes', 'temporalio', 'aiohttp', 'urllib3', 'requests', 'cryptography'}))\n"
        "print('http.client' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split("\n")[:2] == ["[]", "False"]


def test_model_opens_no_file_and_no_socket(monkeypatch) -> None:
    import builtins
    import socket

    import oam

    def refuse(*args, **kwargs):
        raise AssertionError("the model tried to do I/O")

    text = (REPOSITORY / "examples" / "wordpress.yaml").read_text()
    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(socket, "socket", refuse)
    loaded = oam.load_application(text, "wordpress.yaml")
    plan = oam.build_plan(loaded.application)
    assert len(plan.jobs) == 7


def test_import_contracts_hold() -> None:
    linter = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(linter)], cwd=REPOSITORY, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
