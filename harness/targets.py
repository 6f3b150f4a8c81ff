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
from .surface import Surface

LIVE_BASE_URL = "https://api.z.ai/api/paas/v4"
# `.invalid` never resolves (RFC 2606): if the twin's router is not active, nothing leaves the box.
MOCK_BASE_URL = "https://glm-twin.invalid/api/paas/v4"
# The Anthropic-compatible surface's base URLs (what ANTHROPIC_BASE_URL is set to for Claude Code).
LIVE_ANTHROPIC_BASE_URL = "https://api.z.ai/api/anthropic"
MOCK_ANTHROPIC_BASE_URL = "https://glm-twin.invalid/api/anthropic"
# What Anthropic's SDKs send; GLM accepts it and does not depend on it.
ANTHROPIC_VERSION = "2023-06-01"
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
    surface: Surface = Surface.OPENAI  # chat completions, or the Anthropic-compatible Messages API

    def __post_init__(self) -> None:
        if self.kind == "live" and self.api_key:
            from .scrub import register

            register(self.api_key)  # every output of this process is scrubbed of it

    @property
    def chat_url(self) -> str:
        """The generation endpoint: `/chat/completions`, or `/v1/messages` on the Anthropic surface."""
        return self.base_url.rstrip("/") + self.surface.endpoint

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept-Language": "en-US,en"}
        if self.surface is Surface.ANTHROPIC:
            headers["anthropic-version"] = ANTHROPIC_VERSION
            if self.api_key:  # as Anthropic's SDK sends it (Claude Code's Bearer works as well)
                headers["x-api-key"] = self.api_key.reveal()
        elif self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key.reveal()}"
        return headers

    def redact(self, text: str) -> str:
        return redact(text, self.api_key)

    def describe(self) -> dict[str, str]:
        described = {"target": self.kind, "base_url": self.base_url, "model": self.model,
                     "profile": self.profile}
        return described | ({"surface": self.surface.value} if self.surface is not Surface.OPENAI else {})


def redact(text: str, *secrets: Secret | str | None) -> str:
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value:
            text = text.replace(value, REDACTED)
    return text


def mock_target(model: str = DEFAULT_MODEL, base_url: str | None = None,
                surface: Surface = Surface.OPENAI) -> Target:
    from .mock.config import TWIN_KEY

    default = MOCK_ANTHROPIC_BASE_URL if surface is Surface.ANTHROPIC else MOCK_BASE_URL
    return Target("mock", base_url or default, model, Secret(TWIN_KEY), surface=surface)


def live_target(
    base_url: str | None = LIVE_BASE_URL, model: str = DEFAULT_MODEL, api_key_env: str = DEFAULT_KEY_ENV,
    profile: Profile = DEFAULT_PROFILE, surface: Surface = Surface.OPENAI,
) -> Target:
    """`base_url` None: the live API's own for the surface."""
    key = os.environ.get(api_key_env, "").strip()
    url = base_url or (LIVE_ANTHROPIC_BASE_URL if surface is Surface.ANTHROPIC else LIVE_BASE_URL)
    return Target("live", url, model, Secret(key) if key else None, api_key_env, profile, surface)
