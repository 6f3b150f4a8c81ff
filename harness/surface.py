"""The two ways GLM is served: OpenAI's chat completions and Anthropic's Messages API.

One engine, two surfaces: the contract, the twin, the checks and the suites each take a `Surface`
where the two differ, and these paths are where each surface lives.
"""

from __future__ import annotations

from enum import StrEnum


class Surface(StrEnum):
    OPENAI = "openai"  # POST {base}/chat/completions
    ANTHROPIC = "anthropic"  # POST {base}/v1/messages (Claude Code, the GLM Coding Plan)

    @property
    def base_paths(self) -> tuple[str, ...]:
        """The base paths GLM serves this surface under, the default first."""
        return BASE_PATHS[self]

    @property
    def endpoint(self) -> str:
        """The path of the generation endpoint below a base path."""
        return ENDPOINTS[self]


BASE_PATHS: dict[Surface, tuple[str, ...]] = {
    Surface.OPENAI: ("/api/paas/v4", "/api/coding/paas/v4"),
    Surface.ANTHROPIC: ("/api/anthropic",),
}
ENDPOINTS: dict[Surface, str] = {
    Surface.OPENAI: "/chat/completions",
    Surface.ANTHROPIC: "/v1/messages",
}


def surface_of_path(path: str) -> Surface:
    """The surface a request path belongs to: `.../v1/messages` (Claude Code may append
    `?beta=true`) is Anthropic's; anything else is the chat-completions surface."""
    path = path.split("?", 1)[0].rstrip("/")
    return Surface.ANTHROPIC if path.endswith(ENDPOINTS[Surface.ANTHROPIC]) else Surface.OPENAI
