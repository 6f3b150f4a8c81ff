"""glm-harness: contract tests and benchmarks for the GLM chat-completions API.

The public surface: the contract (`harness.contract`), the client and its exchanges, the named
checks, the targets, and the twin (`harness.mock`).
"""

from .checks import CHECKS, Expect, Violation, assert_conforms, run_checks
from .client import AsyncGLMClient, Exchange, GLMClient, TimedEvent
from .errors import ContractError, ContractViolation, HarnessError, SSEError, TransportError, UsageError
from .targets import Target, live_target, mock_target

__version__ = "0.1.0"

__all__ = [
    "CHECKS", "AsyncGLMClient", "ContractError", "ContractViolation", "Exchange", "Expect",
    "GLMClient", "HarnessError", "SSEError", "Target", "TimedEvent", "TransportError",
    "UsageError", "Violation", "__version__", "assert_conforms", "live_target", "mock_target",
    "run_checks",
]
