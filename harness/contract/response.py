"""What the API answers: a whole `ChatCompletion`, or a stream of `ChatCompletionChunk`s.

Shapes follow the recordings in shared/real-traffic: no `object` field, `request_id` beside `id`,
`index` on every tool call, `prompt_tokens_details.cached_tokens` in every usage, fields omitted
rather than `null`. Fields marked `always_sent` are what strict mode expects on every answer.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, NonNegativeInt, field_validator

from ._base import GLMModel, always_sent

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


class Usage(GLMModel):
    prompt_tokens: NonNegativeInt
    completion_tokens: NonNegativeInt
    total_tokens: NonNegativeInt
    prompt_tokens_details: PromptTokensDetails | None = always_sent()

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


class ChatCompletion(GLMModel):
    id: str
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
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
