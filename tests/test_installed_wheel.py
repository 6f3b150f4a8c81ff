"""The package as a user gets it: `pip wheel .` in a fresh venv, the wheel installed into a second
fresh venv beside pytest-base-url and pytest-recording (popular plugins whose options look like
the harness's old unprefixed ones), then, in empty folders, the README's command runs the contract
suites against `glm-harness serve` over HTTP, and an unrelated test file shows no sign of the plugin.

Minutes of pip, so marked `installed_wheel` and left out of the default run; .ci/run runs it
(`pytest -m installed_wheel`). pip's cache and the configured index serve the packages.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.installed_wheel

REPO = Path(__file__).resolve().parents[1]
NEIGHBOURS = ("pytest-base-url>=2,<3", "pytest-recording>=0.13,<1")
UNRELATED = '''
import pytest

def test_base_url_belongs_to_pytest_base_url(base_url):
    assert base_url == "http://example.invalid"

@pytest.mark.bench
def test_a_marker_named_like_the_harness_old_ones_is_left_alone():
    assert True

def test_nothing_of_the_harness_was_imported_but_its_plugin():
    # (httpx may be there: respx's own pytest plugin imports it)
    import sys
    assert sorted(m for m in sys.modules if m.split(".")[0] == "harness") == [
        "harness", "harness._settings", "harness.pytest_plugin"]
    assert "pydantic" not in sys.modules
'''


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 900) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout, check=False)
    assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def _venv(path: Path) -> Path:
    _run(sys.executable, "-m", "venv", path, cwd=path.parent)
    return path / "bin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ of a venv holding the wheel (with [serve] and [bench]) and the neighbouring plugins."""
    root = tmp_path_factory.mktemp("wheel")
    builder = _venv(root / "build-venv")
    _run(builder / "pip", "wheel", "--no-deps", "--quiet", "-w", root / "dist", REPO, cwd=root)
    (wheel,) = (root / "dist").glob("glm_harness-*.whl")
    user = _venv(root / "user-venv")
    _run(user / "pip", "install", "--quiet", f"{wheel}[serve,bench]", *NEIGHBOURS, cwd=root)
    return user


@pytest.fixture(scope="module")
def served(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`glm-harness serve --port 0` from the installed package, in an empty folder."""
    folder = tmp_path_factory.mktemp("serve")
    server = subprocess.Popen([str(installed / "glm-harness"), "serve", "--port", "0"], cwd=folder,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        match = re.search(r"(http://\S+)", line)
        assert match, f"no URL in {line!r}; stderr: {server.stderr.read() if server.poll() is not None else ''}"
        yield match.group(1)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _key(installed: Path, folder: Path) -> str:
    probe = _run(installed / "python", "-c", "from harness.mock import TWIN_KEY; print(TWIN_KEY)", cwd=folder)
    return probe.stdout.strip()


def test_contract_suites_pass_from_the_wheel_over_http(installed: Path, served: str,
                                                       tmp_path: Path) -> None:
    env = {**os.environ, "ZAI_API_KEY": _key(installed, tmp_path)}
    env.pop("PYTHONPATH", None)
    result = _run(installed / "pytest", "--pyargs", "harness.suites.contract", "--glm-target", "live",
                  "--glm-base-url", served, "-p", "no:cacheprovider", "-q", "-rs", cwd=tmp_path, env=env)
    summary = result.stdout.strip().splitlines()[-1]
    passed = int(re.search(r"(\d+) passed", summary).group(1))  # type: ignore[union-attr]
    assert passed >= 30, summary
    assert not re.search(r"\d+ (failed|error)", summary), result.stdout
    assert re.search(r"\d+ deselected", summary), "glm_mock_only tests must be deselected on a live target"
    print(summary)


def test_an_unrelated_project_sees_no_sign_of_the_plugin(installed: Path, tmp_path: Path) -> None:
    (tmp_path / "test_unrelated.py").write_text(UNRELATED)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = _run(installed / "pytest", "test_unrelated.py", "--base-url", "http://example.invalid",
                  "-p", "no:cacheprovider", "-v", cwd=tmp_path, env=env)
    assert "3 passed" in result.stdout, result.stdout
    assert "glm-harness:" not in result.stdout and "glm" not in result.stderr
    assert "deselected" not in result.stdout
    options = _run(installed / "pytest", "--help", cwd=tmp_path, env=env).stdout
    assert "--base-url" in options and "--record-mode" in options and "--glm-target" in options
    assert not re.search(r"^\s+--(target|model|report|record|read-timeout|twin-fault)(?![\w-])", options, re.M)


def test_the_commands_work_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    """bench (its task set and prices), drift (its transcripts and known differences) and validate
    find what they need in the package, not in a checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GLM_HARNESS_REAL_TRAFFIC")}
    cli = installed / "glm-harness"
    drift = _run(cli, "drift", cwd=tmp_path, env=env)
    assert re.search(r"^[1-9]\d* recording\(s\) compared: 0 unknown", drift.stdout, re.M), drift.stdout
    (tmp_path / "request.json").write_text('{"model": "glm-4.6", "messages": [{"role": "user", "content": "hi"}]}')
    assert "1 valid, 0 invalid" in _run(cli, "validate", "request.json", cwd=tmp_path, env=env).stdout
    _run(cli, "bench", "--concurrency", "1", "--requests", "4", "--ttft-ms", "2", "--itl-ms", "1",
         "--tasks", "default", "--no-progress", "--out", "bench.json", cwd=tmp_path, env=env)
    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["kind"] == "glm-harness.bench" and report["complete"], sorted(report)
    assert report["efficiency"] and report["task_set"]["name"] == "default", report["task_set"]
