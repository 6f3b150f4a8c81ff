"""The harness's exceptions: one tree, so callers can catch as broadly or narrowly as they need."""

from __future__ import annotations


class HarnessError(Exception):
    """Base of every error the harness raises on purpose."""


class UsageError(HarnessError):
    """Bad input from the user: a missing file, an unknown option value. Shown as one line."""


class ContractError(HarnessError):
    """Something did not match the GLM contract."""


class SSEError(ContractError):
    """The byte stream broke the Server-Sent Events framing rules."""


class TransportError(HarnessError):
    """The connection failed: refused, reset, timed out."""


class APIStatusError(HarnessError):
    """The API answered with a non-2xx status; carries the business error when there is one."""

    def __init__(self, status: int, code: str | None, message: str) -> None:
        super().__init__(f"HTTP {status} code={code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class MissingExtraError(UsageError, ImportError):
    """A command or name needs an optional dependency group that is not installed."""

    def __init__(self, extra: str, what: str, missing: str) -> None:
        super().__init__(f"{what} needs the [{extra}] extra ({missing} is not installed): "
                         f"pip install 'glm-harness[{extra}]'")
        self.extra = extra
