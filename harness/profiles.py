"""Which server a run speaks to, and so which of GLM's rules apply to it.

`glm` (default) holds a target to all of GLM's contract. `openai-compatible` is for a server that
claims the OpenAI chat-completions shape without being GLM (vLLM, SGLang, llama.cpp, a gateway):
the rules every such server must keep (status codes, error body, usage, tool calls, streaming)
still apply, and the rules that only GLM has are reported as "GLM-only, not applied". Such
servers send usage in a stream only when asked, so under that profile every streamed request
asks (`stream_options.include_usage`); GLM sends it unasked. Where OpenAI documents another answer
than GLM's, the profile holds the server to OpenAI's: the error object, the status for an
unknown model, a named or "required" tool_choice (docs/self-hosted.md 4b).
"""

from __future__ import annotations

from typing import Any, Final, Literal

Profile = Literal["glm", "openai-compatible"]
PROFILES: Final[tuple[Profile, ...]] = ("glm", "openai-compatible")
DEFAULT_PROFILE: Final[Profile] = "glm"

# "check.rule" -> why only GLM is held to it.
GLM_ONLY: Final[dict[str, str]] = {
    "error_code_conformance.code": "GLM's business code values (1210, 1214, ...)",
    "error_code_conformance.message": "the wording of GLM's error messages",
    "error_schema_conformance.status_for_code": "the HTTP status GLM gives each business code",
    "echo_conformance.request_id": "GLM echoes the caller's request_id",
    # OpenAI itself answers "gpt-4o" with a dated snapshot's name; llama.cpp names its .gguf.
    "echo_conformance.model": "GLM answers with the model name it was asked for",
    "thinking_conformance.enabled": "GLM's thinking parameter",
    # OpenAI numbers the tool calls of stream deltas only, not those of a whole answer.
    "tool_call_conformance.index_present": "GLM numbers the tool calls of a whole answer too",
    "thinking_conformance.disabled": "GLM's thinking parameter",
    # Asked for usage (stream_options), an OpenAI-compatible server sends it in one more chunk
    # with `choices: []` after the finish_reason; GLM puts both in its last chunk.
    "stream_invariants.finish_reason_not_last": "GLM's finish_reason and usage share the last chunk",
}
NOT_APPLIED: Final = "GLM-only, not applied"


def applies(profile: Profile, check: str, rule: str) -> bool:
    return profile == "glm" or f"{check}.{rule}" not in GLM_ONLY


def asks_for_usage(profile: Profile) -> bool:
    return profile != "glm"


def with_usage_asked(profile: Profile, request: dict[str, Any]) -> dict[str, Any]:
    """The request as the profile's server needs it to report usage in a stream."""
    if asks_for_usage(profile) and request.get("stream") and "stream_options" not in request:
        return {**request, "stream_options": {"include_usage": True}}
    return request
