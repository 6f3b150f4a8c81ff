"""The harness's exceptions: one tree, so callers can catch as broadly or narrowly as they need."""

from __future__ import annotations

from typing import Any, Literal

TransportKind = Literal["timeout", "connect", "protocol", "network", "limit"]


class HarnessError(Exception):
    """Base of every error the harness raises on purpose."""


class UsageError(HarnessError):
    """Bad input from the user: a missing file, an unknown option value. Shown as one line."""


class ContractError(HarnessError):
    """Something did not match the GLM contract."""


class ContractViolation(ContractError, AssertionError):
    """Raised by `assert_conforms`: the answer broke these rules. An AssertionError too, so that
    pytest shows it as a test failure with the message, not as an error in the harness."""

    def __init__(self, message: str, violations: list[Any]) -> None:
        super().__init__(message)
        self.violations = violations


class SSEError(ContractError):
    """The SSE decoder was misused (fed after close); framing faults are reported, not raised."""


class TransportError(HarnessError):
    """No complete answer: the connection failed, broke, or the server said nothing in time.

    An exchange keeps this as a value (`Exchange.transport_error`) rather than raising it, so a
    check or a benchmark can say what happened; `kind` is what later code branches on.
    """

    def __init__(self, kind: TransportKind, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.kind: TransportKind = kind
        self.name = name
        self.message = message


class ResponseLimitError(TransportError):
    """The answer passed a bound the harness keeps against a hostile server (harness.limits):
    its size, an SSE line or event's size, or its total time. Raised by the bounded readers and
    kept on the exchange like any other `TransportError`; `name` says which bound."""


class MissingExtraError(UsageError, ImportError):
    """A command or name needs an optional dependency group that is not installed."""

    def __init__(self, extra: str, what: str, missing: str) -> None:
        super().__init__(f"{what} needs the [{extra}] extra ({missing} is not installed): "
                         f"pip install 'glm-harness[{extra}]'")
        self.extra = extra
