"""What the API answers: a whole `ChatCompletion`, or a stream of `ChatCompletionChunk`s.

Shapes follow the recordings in shared/real-traffic (2025) and the 2026 recordings: `request_id`
beside `id`, `index` on every tool call, `prompt_tokens_details.cached_tokens` in usage, fields
omitted rather than `null`. Fields marked `always_sent` are what strict mode expects on every
answer; fields marked `observed` were seen in real traffic only (see `_base.py`).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, NonNegativeInt, field_validator

from ._base import GLMModel, always_sent, observed

FinishReason = Literal[
    "stop",
    "length",
    "tool_calls",
    "sensitive",
    "network_error",
    "model_context_window_exceeded",
]


class FunctionCall(GLMModel):
    name: str
    arguments: str = Field(description="The arguments as a JSON-encoded string.")

    def parsed_arguments(self) -> Any:
        return json.loads(self.arguments)


class ToolCall(GLMModel):
    id: str
    type: Literal["function"] = always_sent("function")
    function: FunctionCall
    index: NonNegativeInt | None = None


class AssistantReply(GLMModel):
    role: Literal["assistant"]
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = None


class Choice(GLMModel):
    index: NonNegativeInt
    finish_reason: FinishReason
    message: AssistantReply


class PromptTokensDetails(GLMModel):
    cached_tokens: NonNegativeInt = 0


class CompletionTokensDetails(GLMModel):
    reasoning_tokens: NonNegativeInt = 0


class Usage(GLMModel):
    prompt_tokens: NonNegativeInt
    completion_tokens: NonNegativeInt
    total_tokens: NonNegativeInt
    prompt_tokens_details: PromptTokensDetails | None = always_sent(unless_card="reports_cached_tokens")
    completion_tokens_details: CompletionTokensDetails | None = observed(
        models=("glm-4.6", "glm-4.7", "glm-4.7-flash", "glm-4.7-flashx", "glm-5", "glm-5-turbo", "glm-5.1",
                "glm-5.2"), seen="2026-04..2026-09", era="2026",
        note="glm-4.6 (2026) and later; absent from glm-4.5-air answers and from the 2025 glm-4.5/4.6 "
             "recordings")

    @field_validator("total_tokens")
    @classmethod
    def _total_is_the_sum(cls, total: int, info: Any) -> int:
        prompt, completion = info.data.get("prompt_tokens"), info.data.get("completion_tokens")
        if prompt is not None and completion is not None and total != prompt + completion:
            raise ValueError(f"total_tokens {total} != prompt {prompt} + completion {completion}")
        return total

    @property
    def cached_tokens(self) -> int:
        return self.prompt_tokens_details.cached_tokens if self.prompt_tokens_details else 0

    @property
    def reasoning_tokens(self) -> int | None:
        """What the API says the reasoning cost, or None where it does not say (2025 answers)."""
        details = self.completion_tokens_details
        return details.reasoning_tokens if details is not None else None


def _object_field() -> Any:
    """`object` is in every 2026 answer and chunk (shared/glm-api.md, 2026 recordings)."""
    return observed(models=("glm-4.5-air", "glm-4.7-flash", "glm-4.7-flashx", "glm-4.6", "glm-4.7", "glm-5",
                            "glm-5-turbo", "glm-5.1", "glm-5.2"),
                    seen="2026-01..2026-10", era="2026", note="absent from every 2025 recording")


class ChatCompletion(GLMModel):
    id: str
    object: Literal["chat.completion"] | None = _object_field()
    request_id: str | None = always_sent()
    created: NonNegativeInt
    model: str
    choices: list[Choice] = Field(min_length=1)
    usage: Usage | None = always_sent()
    web_search: list[dict[str, Any]] | None = None
    content_filter: list[dict[str, Any]] | None = None


class DeltaFunction(GLMModel):
    name: str | None = None
    arguments: str | None = None


class DeltaToolCall(GLMModel):
    index: NonNegativeInt
    id: str | None = None
    type: Literal["function"] | None = None
    function: DeltaFunction | None = None


class Delta(GLMModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[DeltaToolCall] | None = None


class ChunkChoice(GLMModel):
    index: NonNegativeInt
    finish_reason: FinishReason | None = None  # before delta, in the recorded key order
    delta: Delta


class ChatCompletionChunk(GLMModel):
    id: str
    created: NonNegativeInt
    object: Literal["chat.completion.chunk"] | None = _object_field()  # after `created`, as recorded
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
