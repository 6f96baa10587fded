"""`starter.py plan` rejects every bad request with exit code 2 and a message that
names the offending field, its value and the valid choices, never a traceback.

The corpus lives in tests/data/bad/, one request per file, each wrong for one
reason. tests/data/bad/EXPECTED.yaml lists the fragments that each file's message
must contain. Hostile inputs that would be too large to commit are generated here.
The only time bound is the subprocess timeout: a hang fails the test, a slow
machine does not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from oam import loading

REPOSITORY = Path(__file__).resolve().parents[2]
BAD = REPOSITORY / "tests" / "data" / "bad"
EXPECTED = yaml.safe_load((BAD / "EXPECTED.yaml").read_text(encoding="utf-8"))
CORPUS = sorted(
    path.name
    for path in BAD.iterdir()
    if path.suffix in (".json", ".yaml") and path.name != "EXPECTED.yaml"
)
DESIGN_NOTE_REQUEST = REPOSITORY / "tests" / "data" / "design_note_request.json"

# Generous: on a 2-CPU test machine, each run here took under 3 seconds.
SUBPROCESS_TIMEOUT_SECONDS = 30
EXIT_INVALID = 2
MIB = 1024 * 1024


def run_plan(path: Path) -> subprocess.CompletedProcess[str]:
    """Run `python starter.py plan PATH` from the repository root and capture its output."""
    return subprocess.run(
        [sys.executable, "starter.py", "plan", str(path)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_SECONDS,
        check=False,
    )


def assert_rejected(
    result: subprocess.CompletedProcess[str], fragments: list[str]
) -> None:
    """Assert exit code 2, no traceback, and every fragment in standard error."""
    assert result.returncode == EXIT_INVALID, (
        f"exit code {result.returncode}; stderr:\n{result.stderr}"
    )
    assert "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (
            f"{fragment!r} is missing from stderr:\n{result.stderr}"
        )


def component(name: str = "web", **fields: object) -> dict:
    return {"name": name, "type": "webservice", "image": "nginx:1.27", **fields}


# --- the corpus -----------------------------------------------------------------------


PlanOutcome = subprocess.CompletedProcess[str] | subprocess.TimeoutExpired


def run_plan_or_time_out(path: Path) -> PlanOutcome:
    """Run `plan` on PATH, returning the timeout instead of raising it."""
    try:
        return run_plan(path)
    except subprocess.TimeoutExpired as error:
        return error


@pytest.fixture(scope="module")
def corpus_results() -> dict[str, PlanOutcome]:
    """Run `plan` on every corpus file, two or more processes at a time.

    Interpreter start-up is most of each run, so parallel runs save most of the time.
    A file that hangs fails only its own test.
    """
    workers = max(2, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(run_plan_or_time_out, [BAD / name for name in CORPUS])
        return dict(zip(CORPUS, results, strict=True))


def corpus_result(
    results: dict[str, PlanOutcome], name: str
) -> subprocess.CompletedProcess[str]:
    """Return the finished run of corpus file NAME, or fail the test if it timed out."""
    outcome = results[name]
    if isinstance(outcome, subprocess.TimeoutExpired):
        pytest.fail(f"plan {name} did not finish within {SUBPROCESS_TIMEOUT_SECONDS} s")
    return outcome


def test_corpus_has_expected_fragments_for_every_file() -> None:
    assert sorted(EXPECTED) == CORPUS


def test_corpus_mixes_json_and_yaml() -> None:
    suffixes = [Path(name).suffix for name in CORPUS]
    assert len(CORPUS) >= 40
    assert suffixes.count(".json") >= 10
    assert suffixes.count(".yaml") >= 10


def test_corpus_files_stay_small() -> None:
    sizes = {name: (BAD / name).stat().st_size for name in CORPUS}
    assert max(sizes.values()) < 4096, sizes


@pytest.mark.parametrize("name", CORPUS)
def test_bad_request_names_field_and_value(
    name: str, corpus_results: dict[str, PlanOutcome]
) -> None:
    assert_rejected(corpus_result(corpus_results, name), EXPECTED[name])


def test_rejected_request_prints_nothing_to_stdout(
    corpus_results: dict[str, PlanOutcome],
) -> None:
    assert corpus_result(corpus_results, "port-out-of-range.yaml").stdout == ""


def test_design_note_request_is_rejected() -> None:
    result = run_plan(DESIGN_NOTE_REQUEST)
    assert_rejected(
        result,
        ["workflow[1].components[1]", "'mysql-readonly'", "declared: config, mysql"],
    )


# --- every problem in one run ---------------------------------------------------------


def test_three_field_mistakes_are_all_reported(tmp_path: Path) -> None:
    request = {
        "name": "shop",
        "failurePolicy": "rollback",
        "component": [component(properties={"ports": [{"port": 70000}]})],
        "workflow": [{"name": "serve", "mode": "dag", "components": ["web"]}],
    }
    path = tmp_path / "three-mistakes.json"
    path.write_text(json.dumps(request), encoding="utf-8")

    result = run_plan(path)

    assert_rejected(result, ["3 problems"])
    assert "component[0].properties.ports[0].port" in result.stderr
    assert "workflow[0].mode" in result.stderr
    assert "failurePolicy" in result.stderr


def test_mistakes_across_checks_all_reported(tmp_path: Path) -> None:
    # A wrong type, a step naming an undeclared component and a dependency on an
    # unknown step are independent of each other, so one run can report all three.
    request = {
        "name": "shop",
        "component": [component(replicas="3"), component("api")],
        "workflow": [
            {"name": "front", "components": ["web", "cache"]},
            {"name": "back", "components": ["api"], "dependsOn": ["database"]},
        ],
    }
    path = tmp_path / "mistakes-in-every-layer.json"
    path.write_text(json.dumps(request), encoding="utf-8")

    result = run_plan(path)

    assert_rejected(result, [])
    assert "component[0].replicas" in result.stderr
    assert "workflow[0].components[1]" in result.stderr
    assert "workflow[1].dependsOn[0]" in result.stderr


# --- hostile input, generated ---------------------------------------------------------


def test_json_nested_100000_levels_is_rejected(tmp_path: Path) -> None:
    depth = 100_000
    path = tmp_path / "deep.json"
    path.write_text(
        '{"name": "shop", "component": ' + "[" * depth + "]" * depth + "}",
        encoding="utf-8",
    )
    assert_rejected(run_plan(path), ["(request)", "invalid JSON", "nested deeper"])


def test_yaml_nested_100000_levels_is_rejected(tmp_path: Path) -> None:
    depth = 100_000
    path = tmp_path / "deep.yaml"
    path.write_text(
        "name: shop\ncomponent: " + "[" * depth + "]" * depth + "\n", encoding="utf-8"
    )
    assert_rejected(run_plan(path), ["(request)", "invalid YAML", "nested deeper"])


def test_yaml_nested_block_mappings_are_rejected(tmp_path: Path) -> None:
    lines = [" " * level + "key:" for level in range(2000)]
    path = tmp_path / "deep-block.yaml"
    path.write_text("name: shop\n" + "\n".join(lines) + "\n", encoding="utf-8")
    assert_rejected(run_plan(path), ["(request)", "nested deeper"])


def test_json_with_millions_of_values_is_rejected(tmp_path: Path) -> None:
    request = {
        "name": "shop",
        "component": [
            component(properties={"command": ["x"] * (loading.MAX_NODES + 1)})
        ],
    }
    path = tmp_path / "wide.json"
    path.write_text(json.dumps(request), encoding="utf-8")
    assert_rejected(run_plan(path), ["(request)", f"{loading.MAX_NODES} values"])


def test_request_over_size_limit_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "too-large.yaml"
    path.write_text(
        "name: shop\ndescription: " + "x" * (loading.MAX_REQUEST_BYTES + MIB) + "\n",
        encoding="utf-8",
    )
    limit = f"limit of {loading.MAX_REQUEST_BYTES} bytes"
    assert_rejected(run_plan(path), ["(request)", limit])


def test_huge_value_is_shortened_in_the_message(tmp_path: Path) -> None:
    request = {"name": "a" * (20 * MIB), "component": [component()]}
    path = tmp_path / "huge-name.json"
    path.write_text(json.dumps(request), encoding="utf-8")

    result = run_plan(path)

    assert_rejected(result, ["name: invalid value 'aaaa", "at most 63 characters"])
    assert len(result.stderr) < 2000


def test_conf_over_one_mebibyte_is_rejected(tmp_path: Path) -> None:
    # Two long values rather than many short ones, because the pure-Python YAML
    # parser is slow per token. The limit counts bytes, not keys.
    conf = {"part-a": "x" * (MIB // 2), "part-b": "y" * (MIB // 2 + 1)}
    request = {
        "name": "shop",
        "component": [
            {"name": "settings", "type": "config", "properties": {"conf": conf}}
        ],
    }
    path = tmp_path / "conf-over-1mib.yaml"
    path.write_text(yaml.safe_dump(request, width=2 * MIB), encoding="utf-8")
    assert_rejected(run_plan(path), ["component[0].properties.conf", "1048576 bytes"])


def test_secret_over_one_mebibyte_is_rejected(tmp_path: Path) -> None:
    secret = {"blob": "x" * (MIB + 1)}
    request = {
        "name": "shop",
        "component": [
            {"name": "keys", "type": "secret", "properties": {"secret": secret}}
        ],
    }
    path = tmp_path / "secret-over-1mib.json"
    path.write_text(json.dumps(request), encoding="utf-8")
    assert_rejected(run_plan(path), ["component[0].properties.secret", "1048576 bytes"])


def test_conf_of_exactly_one_mebibyte_is_accepted(tmp_path: Path) -> None:
    key = "blob"
    conf = {key: "x" * (MIB - len(key))}
    request = {
        "name": "shop",
        "component": [
            {"name": "settings", "type": "config", "properties": {"conf": conf}}
        ],
    }
    path = tmp_path / "conf-1mib.json"
    path.write_text(json.dumps(request), encoding="utf-8")

    result = run_plan(path)

    assert result.returncode == 0, result.stderr
