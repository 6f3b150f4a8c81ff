"""The names `harness` exports (docs/api.md), pinned: removing or renaming one is a decision."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import harness

PUBLIC = {
    "__version__",
    # targets
    "DEFAULT_KEY_ENV", "LIVE_BASE_URL", "Secret", "Target", "live_target", "mock_target",
    # the client
    "AsyncGLMClient", "Exchange", "GLMClient", "TimedEvent",
    # the contract and the checks
    "DEFAULT_MODEL", "Mode", "ModelCard", "CHECKS", "Expect", "Violation", "assert_conforms",
    "run_checks",
    # the twin
    "TWIN_KEY", "Fault", "FaultSpec", "GLMTwin", "Limits", "Style", "Timing", "TwinConfig", "parse_fault",
    # the fixtures' types
    "ClientFactory", "GLMCheck",
    # reports
    "BenchReport", "ContractReport", "load_report",
    # errors
    "ContractError", "ContractViolation", "HarnessError", "MissingExtraError", "SSEError",
    "TransportError", "UsageError",
}
API_DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def test_the_public_names_are_pinned() -> None:
    assert set(harness.__all__) == PUBLIC


def test_every_public_name_resolves() -> None:
    for name in harness.__all__:
        assert getattr(harness, name) is not None, name


def test_every_public_name_is_documented() -> None:
    text = API_DOC.read_text()
    missing = sorted(n for n in PUBLIC - {"__version__"} if f"`{n}" not in text)
    assert not missing, f"not in docs/api.md: {missing}"


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        harness.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as error:
        assert "NoSuchThing" in str(error)
    else:
        raise AssertionError("harness.NoSuchThing resolved")


def test_importing_the_plugin_loads_nothing_heavy() -> None:
    """Every pytest session of an environment with glm-harness loads the plugin."""
    probe = ("import sys, harness.pytest_plugin; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('pydantic', 'httpx', 'respx', 'numpy', 'scipy', 'jsonschema', 'uvicorn', 'rich', 'matplotlib') "
             "or (m.startswith('harness.') and m not in ('harness.pytest_plugin', 'harness._settings'))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
