"""glm-harness: contract tests and benchmarks for the GLM chat-completions API.

The public surface, importable from `harness` directly (docs/api.md; tests/test_public_api.py
pins it): the targets, the client and its exchanges, the named checks, the twin, the fixtures'
types and the report loaders. Names load on first use, so that the pytest plugin, which every
pytest session of an environment with glm-harness loads, costs nothing where it is not used;
report loaders need the [bench] extra. Subpackages `harness.contract`, `harness.mock`,
`harness.bench` and `harness.compare` are public too; modules named `_…` are not.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> the module that defines it
_EXPORTS: dict[str, str] = {
    # targets
    "Target": "targets", "Secret": "targets", "live_target": "targets", "mock_target": "targets",
    "LIVE_BASE_URL": "targets", "DEFAULT_KEY_ENV": "targets",
    # the client and what it records
    "GLMClient": "client", "AsyncGLMClient": "client", "Exchange": "client", "TimedEvent": "client",
    # the contract's entry points
    "DEFAULT_MODEL": "contract", "Mode": "contract", "ModelCard": "contract",
    # named checks
    "CHECKS": "checks", "Expect": "checks", "Violation": "checks", "run_checks": "checks",
    "assert_conforms": "checks",
    # the twin
    "GLMTwin": "mock", "TwinConfig": "mock", "Fault": "mock", "FaultSpec": "mock",
    "parse_fault": "mock", "Limits": "mock", "Timing": "mock", "Style": "mock", "TWIN_KEY": "mock",
    # the pytest fixtures' types (glm_target: Target, glm_client: GLMClient, glm_mock: GLMTwin, ...)
    "GLMCheck": "pytest_plugin", "ClientFactory": "pytest_plugin",
    # report loaders ([bench] extra)
    "BenchReport": "bench.report", "load_report": "bench.report",
    "ContractReport": "compare.load",
    # errors
    "HarnessError": "errors", "UsageError": "errors", "MissingExtraError": "errors",
    "ContractError": "errors", "SSEError": "errors", "TransportError": "errors",
    "ContractViolation": "errors",
}
_NEEDS_EXTRA = {"bench.report": "bench", "compare.load": "bench"}

__all__ = [
    "CHECKS",
    "DEFAULT_KEY_ENV",
    "DEFAULT_MODEL",
    "LIVE_BASE_URL",
    "TWIN_KEY",
    "AsyncGLMClient",
    "BenchReport",
    "ClientFactory",
    "ContractError",
    "ContractReport",
    "ContractViolation",
    "Exchange",
    "Expect",
    "Fault",
    "FaultSpec",
    "GLMCheck",
    "GLMClient",
    "GLMTwin",
    "HarnessError",
    "Limits",
    "MissingExtraError",
    "Mode",
    "ModelCard",
    "SSEError",
    "Secret",
    "Style",
    "Target",
    "TimedEvent",
    "Timing",
    "TransportError",
    "TwinConfig",
    "UsageError",
    "Violation",
    "__version__",
    "assert_conforms",
    "live_target",
    "load_report",
    "mock_target",
    "parse_fault",
    "run_checks",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    if module in _NEEDS_EXTRA:
        from ._extras import require

        require(_NEEDS_EXTRA[module], f"harness.{name}")
    value = getattr(import_module(f"harness.{module}"), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:
    from .bench.report import BenchReport, load_report
    from .checks import CHECKS, Expect, Violation, assert_conforms, run_checks
    from .client import AsyncGLMClient, Exchange, GLMClient, TimedEvent
    from .compare.load import ContractReport
    from .contract import DEFAULT_MODEL, Mode, ModelCard
    from .errors import (
        ContractError,
        ContractViolation,
        HarnessError,
        MissingExtraError,
        SSEError,
        TransportError,
        UsageError,
    )
    from .mock import TWIN_KEY, Fault, FaultSpec, GLMTwin, Limits, Style, Timing, TwinConfig, parse_fault
    from .pytest_plugin import ClientFactory, GLMCheck
    from .targets import DEFAULT_KEY_ENV, LIVE_BASE_URL, Secret, Target, live_target, mock_target
