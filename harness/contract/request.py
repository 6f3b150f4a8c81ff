"""What a client may send to `POST /chat/completions`, with every documented range and default.

Ranges that depend on the model (max_tokens, the context window) live on the model cards in
`cards.py`; everything that holds for every model is written here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from ._base import GLMModel, observed, observed_shape
from .response import ToolCall

Role = Literal["system", "user", "assistant", "tool"]


class TextPart(GLMModel):
    type: Literal["text"] = "text"
    text: str


class ImageURL(GLMModel):
    url: str


class ImagePart(GLMModel):
    """Multimodal input for the vision models (glm-4.5v, glm-4.6v)."""

    type: Literal["image_url"] = "image_url"
    image_url: ImageURL


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]
Content = str | list[ContentPart]


class SystemMessage(GLMModel):
    role: Literal["system"] = "system"
    content: Content


class UserMessage(GLMModel):
    role: Literal["user"] = "user"
    content: Content


class AssistantMessage(GLMModel):
    """A previous assistant turn sent back: text, tool calls, and (GLM's own) reasoning."""

    role: Literal["assistant"] = "assistant"
    content: Content | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = None


class ToolMessage(GLMModel):
    role: Literal["tool"] = "tool"
    content: Content
    tool_call_id: str


Message = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolMessage, Field(discriminator="role")
]


class FunctionDefinition(GLMModel):
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="A JSON Schema object for the arguments.",
    )
    strict: bool | None = None


class FunctionTool(GLMModel):
    type: Literal["function"] = "function"
    function: FunctionDefinition


class WebSearchTool(GLMModel):
    type: Literal["web_search"] = "web_search"
    web_search: dict[str, Any] = Field(default_factory=dict)


class RetrievalTool(GLMModel):
    type: Literal["retrieval"] = "retrieval"
    retrieval: dict[str, Any] = Field(default_factory=dict)


Tool = Annotated[FunctionTool | WebSearchTool | RetrievalTool, Field(discriminator="type")]

class NamedFunction(GLMModel):
    name: str


class NamedToolChoice(GLMModel):
    """A forced tool: docs.z.ai says "only auto is supported", yet GLM answers 200 and calls the
    named tool."""

    model_config = observed_shape(models=("glm-4.5", "glm-4.7-flash"), seen="2025-09..2026", era="2025")

    type: Literal["function"] = "function"
    function: NamedFunction


# docs.z.ai: "The default value is auto, and only auto is supported."; a named tool is observed.
ToolChoice = Literal["auto"] | NamedToolChoice


class Thinking(GLMModel):
    type: Literal["enabled", "disabled"] = "enabled"
    clear_thinking: bool | None = None  # docs.z.ai thinking guide: preserved thinking (coding plan)


class ResponseFormat(GLMModel):
    type: Literal["text", "json_object"] = "text"


class StreamOptions(GLMModel):
    """OpenAI's option; GLM sends usage in the last chunk whether or not it is set."""

    include_usage: bool = True


class ChatCompletionRequest(GLMModel):
    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    thinking: Thinking | None = None
    do_sample: bool = True
    temperature: float | None = Field(None, ge=0.0, le=1.0, multiple_of=0.01)
    top_p: float | None = Field(None, ge=0.01, le=1.0)
    max_tokens: int | None = Field(None, ge=1)
    stop: list[str] | None = Field(None, max_length=4)
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    tool_stream: bool = False
    reasoning_effort: str | None = observed(
        models=("glm-4.5", "glm-4.6"), seen="2025-09..2025-11", era="2025",
        note="sent by clients and answered 200; documented for glm-5.x on open.bigmodel.cn")
    response_format: ResponseFormat | None = None
    stream_options: StreamOptions | None = None
    request_id: str | None = Field(None, min_length=1, max_length=128)
    user_id: str | None = Field(None, min_length=6, max_length=128)

    @model_validator(mode="after")
    def _tool_results_answer_a_call(self) -> ChatCompletionRequest:
        called = {
            call.id
            for message in self.messages
            if isinstance(message, AssistantMessage)
            for call in message.tool_calls or ()
        }
        for message in self.messages:
            if isinstance(message, ToolMessage) and called and message.tool_call_id not in called:
                raise ValueError(f"tool_call_id {message.tool_call_id!r} answers no tool call")
        return self

    @property
    def thinking_enabled(self) -> bool:
        """GLM-4.5 and later reason unless told not to."""
        return self.thinking is None or self.thinking.type == "enabled"

    def function_tools(self) -> list[FunctionDefinition]:
        return [tool.function for tool in self.tools or () if isinstance(tool, FunctionTool)]

    @property
    def forced_tool(self) -> str | None:
        """The tool a forced `tool_choice` names, if any."""
        return self.tool_choice.function.name if isinstance(self.tool_choice, NamedToolChoice) else None
