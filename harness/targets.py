"""What a run points at: the twin (default), the live API, or any OpenAI-compatible base URL.

The API key lives in a `Secret` that never shows itself in a repr, a log line or a curl line;
`redact()` scrubs it from any text the harness is about to write.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from .contract import DEFAULT_MODEL
from .profiles import DEFAULT_PROFILE, Profile

LIVE_BASE_URL = "https://api.z.ai/api/paas/v4"
# The GLM Coding Plan's OpenAI-compatible base URL: the same contract, another quota (and its
# own 401 body); BigModel's is https://open.bigmodel.cn/api/coding/paas/v4.
CODING_PLAN_BASE_URL = "https://api.z.ai/api/coding/paas/v4"
# `.invalid` never resolves (RFC 2606): if the twin's router is not active, nothing leaves the box.
MOCK_BASE_URL = "https://glm-twin.invalid/api/paas/v4"
MOCK_CODING_PLAN_BASE_URL = "https://glm-twin.invalid/api/coding/paas/v4"
DEFAULT_KEY_ENV = "ZAI_API_KEY"
REDACTED = "<redacted>"

TargetKind = Literal["mock", "live"]


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(<redacted>)"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind
    base_url: str
    model: str
    api_key: Secret | None
    api_key_env: str = DEFAULT_KEY_ENV
    profile: Profile = DEFAULT_PROFILE  # which of GLM's rules apply, and how usage is asked for

    def __post_init__(self) -> None:
        if self.kind == "live" and self.api_key:
            from .scrub import register

            register(self.api_key)  # every output of this process is scrubbed of it

    @property
    def chat_url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept-Language": "en-US,en"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key.reveal()}"
        return headers

    def redact(self, text: str) -> str:
        return redact(text, self.api_key)

    def describe(self) -> dict[str, str]:
        return {"target": self.kind, "base_url": self.base_url, "model": self.model,
                "profile": self.profile}


def redact(text: str, *secrets: Secret | str | None) -> str:
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value:
            text = text.replace(value, REDACTED)
    return text


def mock_target(model: str = DEFAULT_MODEL, base_url: str = MOCK_BASE_URL) -> Target:
    from .mock.config import TWIN_KEY

    return Target("mock", base_url, model, Secret(TWIN_KEY))


def live_target(
    base_url: str = LIVE_BASE_URL, model: str = DEFAULT_MODEL, api_key_env: str = DEFAULT_KEY_ENV,
    profile: Profile = DEFAULT_PROFILE,
) -> Target:
    key = os.environ.get(api_key_env, "").strip()
    return Target("live", base_url, model, Secret(key) if key else None, api_key_env, profile)
