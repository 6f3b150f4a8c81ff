"""GLM's Anthropic-compatible surface, `POST /api/anthropic/v1/messages`: request, answer, stream
events and error bodies.

This is the surface Claude Code speaks to GLM (the Coding Plan). Anthropic's public Messages API
reference is the base: an unmarked field here is *documented* there. Where GLM differs, the
recordings win (shared/anthropic-api.md, shared/real-traffic-2026 `*__anthropic__*`, 2026-05-07,
glm-4.5-air to glm-5.1); what GLM sends or accepts beyond Anthropic's reference is marked
`observed(...)`, exactly as on the chat-completions surface (see `_base.py`), so strict mode tells
documented from observed from unknown the same way on both.

The names are Anthropic's own (`Message`, `TextBlock`, `message_start`...). Where one would clash
with a chat-completions name exported from `harness.contract` (`Message`, `Usage`, `ErrorBody`),
the package exports this module's type under a distinct name (see `__init__.py`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, NonNegativeInt, model_validator

from ._base import NULLABLE, GLMModel, always_sent, nullable, observed, observed_shape
from .error import ErrorBody

_RECORDED_MODELS = ("glm-4.5-air", "glm-4.6", "glm-4.7", "glm-4.7-flashx", "glm-5", "glm-5-turbo",
                    "glm-5.1")
_RECORDED = "2026-05-07"
ERA = "2026"


# -- shared pieces ----------------------------------------------------------------------------------
class CacheControl(GLMModel):
    """Prompt-caching breakpoint. GLM accepts it and caches on its own; the hit shows in
    `usage.cache_read_input_tokens`."""

    type: Literal["ephemeral"] = "ephemeral"
    ttl: Literal["5m", "1h"] | None = None


# -- content blocks (sent in `messages`, and answered in `content`) ---------------------------------
class TextBlock(GLMModel):
    type: Literal["text"] = "text"
    text: str
    cache_control: CacheControl | None = None
    citations: list[dict[str, Any]] | None = nullable()


class Base64ImageSource(GLMModel):
    type: Literal["base64"] = "base64"
    media_type: Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
    data: str


class URLImageSource(GLMModel):
    type: Literal["url"] = "url"
    url: str


ImageSource = Annotated[Base64ImageSource | URLImageSource, Field(discriminator="type")]


class ImageBlock(GLMModel):
    type: Literal["image"] = "image"
    source: ImageSource
    cache_control: CacheControl | None = None


class DocumentBlock(GLMModel):
    """A PDF or plain-text document (Claude Code sends one when a PDF is read)."""

    type: Literal["document"] = "document"
    source: dict[str, Any]
    title: str | None = None
    context: str | None = None
    citations: dict[str, Any] | None = None
    cache_control: CacheControl | None = None


class ToolUseBlock(GLMModel):
    """A tool call. GLM's ids are `call_<24 hex>` (Anthropic's are `toolu_...`)."""

    type: Literal["tool_use"] = "tool_use"
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    input: dict[str, Any]
    cache_control: CacheControl | None = None


ToolResultContent = Annotated[TextBlock | ImageBlock | DocumentBlock, Field(discriminator="type")]


class ToolResultBlock(GLMModel):
    type: Literal["tool_result"] = "tool_result"
    tool_use_id: str = Field(min_length=1)
    content: str | list[ToolResultContent] | None = None
    is_error: bool | None = None
    cache_control: CacheControl | None = None


class ThinkingBlock(GLMModel):
    """Extended thinking. Claude Code transcripts of glm-4.7 show a short `signature` (24 hex);
    no recording in shared/ switched thinking on, so its exact shape on GLM is unconfirmed."""

    type: Literal["thinking"] = "thinking"
    thinking: str
    signature: str | None = None


class RedactedThinkingBlock(GLMModel):
    type: Literal["redacted_thinking"] = "redacted_thinking"
    data: str


ContentBlockParam = Annotated[
    TextBlock | ImageBlock | DocumentBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock
    | RedactedThinkingBlock,
    Field(discriminator="type"),
]
ContentBlock = Annotated[
    TextBlock | ToolUseBlock | ThinkingBlock | RedactedThinkingBlock, Field(discriminator="type")
]


# -- the request --------------------------------------------------------------------------------------
class MessageParam(GLMModel):
    """A user or assistant turn: a string, or a list of content blocks."""

    role: Literal["user", "assistant"]
    content: str | list[ContentBlockParam]


class SystemMessageParam(GLMModel):
    """A `system`-role turn inside `messages`: not in Anthropic's reference (system goes in the
    top-level `system`), yet clients send it and GLM answers 200."""

    model_config = observed_shape(
        models=("glm-4.6", "glm-4.7"), seen="2026", era=ERA,
        note="Claude Code and other agents put a system turn in `messages`; GLM answers 200")

    role: Literal["system"]
    content: str | list[ContentBlockParam]


AnyMessageParam = Annotated[MessageParam | SystemMessageParam, Field(discriminator="role")]


class ToolParam(GLMModel):
    """A client tool: a name, a description, and a JSON Schema for its `input`."""

    type: Literal["custom"] | None = None
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,128}$")
    description: str | None = None
    input_schema: dict[str, Any] = Field(description="A JSON Schema object for the tool's input.")
    cache_control: CacheControl | None = None

    @model_validator(mode="after")
    def _schema_is_an_object(self) -> ToolParam:
        if self.input_schema.get("type", "object") != "object":
            raise ValueError(f"input_schema.type must be 'object', not {self.input_schema['type']!r}")
        return self


class ServerToolParam(GLMModel):
    """A server tool with a versioned type (`web_search_20250305`, ...); no `input_schema`."""

    type: str = Field(pattern=r"^[a-z_]+_\d{8}$")
    name: str = Field(min_length=1)
    cache_control: CacheControl | None = None


AnyToolParam = ToolParam | ServerToolParam


class ToolChoiceAuto(GLMModel):
    type: Literal["auto"] = "auto"
    disable_parallel_tool_use: bool | None = None


class ToolChoiceAny(GLMModel):
    type: Literal["any"] = "any"
    disable_parallel_tool_use: bool | None = None


class ToolChoiceTool(GLMModel):
    type: Literal["tool"] = "tool"
    name: str = Field(min_length=1)
    disable_parallel_tool_use: bool | None = None


class ToolChoiceNone(GLMModel):
    type: Literal["none"] = "none"


ToolChoiceParam = Annotated[
    ToolChoiceAuto | ToolChoiceAny | ToolChoiceTool | ToolChoiceNone, Field(discriminator="type")
]


class ThinkingEnabled(GLMModel):
    type: Literal["enabled"] = "enabled"
    budget_tokens: int = Field(ge=1024, description="Anthropic's minimum is 1024 tokens.")


class ThinkingAdaptive(GLMModel):
    """The model decides how much to think (what Claude Code sends to recent models)."""

    type: Literal["adaptive"] = "adaptive"


class ThinkingDisabled(GLMModel):
    type: Literal["disabled"] = "disabled"


ThinkingConfigParam = Annotated[
    ThinkingEnabled | ThinkingAdaptive | ThinkingDisabled, Field(discriminator="type")
]


class MessagesMetadata(GLMModel):
    user_id: str | None = Field(None, max_length=512)


class ContextManagement(GLMModel):
    """Context editing (Anthropic beta `context-management-2025-06-27`): Claude Code sends
    `{"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}`."""

    edits: list[dict[str, Any]] = Field(default_factory=list)


class OutputConfig(GLMModel):
    """Output settings Claude Code sends (`effort`; a structured-output `format`)."""

    effort: Literal["low", "medium", "high", "max"] | None = None
    format: dict[str, Any] | None = None


class MessagesRequest(GLMModel):
    model: str = Field(min_length=1)
    max_tokens: int = Field(ge=1, description="Required by the Messages API.")
    messages: list[AnyMessageParam] = Field(min_length=1)
    system: str | list[TextBlock] | None = None
    tools: list[AnyToolParam] | None = None
    tool_choice: ToolChoiceParam | None = None
    thinking: ThinkingConfigParam | None = None
    stop_sequences: list[str] | None = None
    metadata: MessagesMetadata | None = None
    temperature: float | None = Field(None, ge=0.0, le=1.0)
    top_p: float | None = Field(None, ge=0.0, le=1.0)
    top_k: int | None = Field(None, ge=0)
    stream: bool = False
    service_tier: Literal["auto", "standard_only"] | None = None
    context_management: ContextManagement | None = None
    output_config: OutputConfig | None = None

    @model_validator(mode="after")
    def _tool_results_answer_a_call(self) -> MessagesRequest:
        called = {block.id for block in self._blocks() if isinstance(block, ToolUseBlock)}
        for block in self._blocks():
            if isinstance(block, ToolResultBlock) and called and block.tool_use_id not in called:
                raise ValueError(f"tool_use_id {block.tool_use_id!r} answers no tool_use block")
        return self

    @model_validator(mode="after")
    def _forced_tool_exists(self) -> MessagesRequest:
        forced = self.forced_tool
        if forced is not None and forced not in {t.name for t in self.tools or ()}:
            raise ValueError(f"tool_choice names {forced!r}, which is not in tools")
        return self

    def _blocks(self) -> list[Any]:
        return [block for message in self.messages if isinstance(message.content, list)
                for block in message.content]

    def client_tools(self) -> list[ToolParam]:
        return [tool for tool in self.tools or () if isinstance(tool, ToolParam)]

    @property
    def forced_tool(self) -> str | None:
        return self.tool_choice.name if isinstance(self.tool_choice, ToolChoiceTool) else None

    @property
    def thinking_enabled(self) -> bool:
        return isinstance(self.thinking, ThinkingEnabled | ThinkingAdaptive)

    @property
    def system_text(self) -> str:
        if isinstance(self.system, str) or self.system is None:
            return self.system or ""
        return "".join(block.text for block in self.system)


# -- the answer ---------------------------------------------------------------------------------------
StopReason = Literal[
    "end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal",
    "model_context_window_exceeded",
]


class ServerToolUsage(GLMModel):
    web_search_requests: NonNegativeInt = 0
    web_fetch_requests: NonNegativeInt | None = None


class CacheCreation(GLMModel):
    ephemeral_5m_input_tokens: NonNegativeInt = 0
    ephemeral_1h_input_tokens: NonNegativeInt = 0


class MessagesUsage(GLMModel):
    """Token counts. GLM reports `cache_read_input_tokens` (non-zero on a repeated prefix) and no
    `cache_creation_input_tokens`; in a stream, `message_start` carries zeros (GLM's normal) and
    `message_delta` the real counts."""

    input_tokens: NonNegativeInt
    output_tokens: NonNegativeInt
    cache_read_input_tokens: NonNegativeInt | None = nullable()
    cache_creation_input_tokens: NonNegativeInt | None = nullable()
    cache_creation: CacheCreation | None = nullable()
    server_tool_use: ServerToolUsage | None = nullable()
    service_tier: Literal["standard", "priority", "batch"] | None = nullable()


class Message(GLMModel):
    """The answer to `POST /v1/messages`, and the `message` of a stream's `message_start`
    (there with empty `content`, `stop_reason: null` and zero usage)."""

    id: str = Field(min_length=1, description="GLM: `msg_<date-time UTC+8><hex>`.")
    type: Literal["message"] = always_sent("message")
    role: Literal["assistant"]
    model: str
    content: list[ContentBlock]
    stop_reason: StopReason | None = always_sent(json_schema_extra={NULLABLE: True})
    stop_sequence: str | None = always_sent(json_schema_extra={NULLABLE: True})
    usage: MessagesUsage

    @property
    def text(self) -> str:
        return "".join(block.text for block in self.content if isinstance(block, TextBlock))

    @property
    def tool_uses(self) -> list[ToolUseBlock]:
        return [block for block in self.content if isinstance(block, ToolUseBlock)]


# -- stream events (SSE with `event:` lines; the event name equals the data's `type`) -------------
class TextDelta(GLMModel):
    type: Literal["text_delta"] = "text_delta"
    text: str


class InputJSONDelta(GLMModel):
    """A piece of a tool_use block's input JSON. GLM sends one delta with the whole JSON."""

    type: Literal["input_json_delta"] = "input_json_delta"
    partial_json: str


class ThinkingDelta(GLMModel):
    type: Literal["thinking_delta"] = "thinking_delta"
    thinking: str


class SignatureDelta(GLMModel):
    type: Literal["signature_delta"] = "signature_delta"
    signature: str


class CitationsDelta(GLMModel):
    type: Literal["citations_delta"] = "citations_delta"
    citation: dict[str, Any]


BlockDelta = Annotated[
    TextDelta | InputJSONDelta | ThinkingDelta | SignatureDelta | CitationsDelta,
    Field(discriminator="type"),
]


class MessageStartEvent(GLMModel):
    type: Literal["message_start"] = "message_start"
    message: Message


class PingEvent(GLMModel):
    type: Literal["ping"] = "ping"


class ContentBlockStartEvent(GLMModel):
    type: Literal["content_block_start"] = "content_block_start"
    index: NonNegativeInt
    content_block: ContentBlock


class ContentBlockDeltaEvent(GLMModel):
    type: Literal["content_block_delta"] = "content_block_delta"
    index: NonNegativeInt
    delta: BlockDelta


class ContentBlockStopEvent(GLMModel):
    type: Literal["content_block_stop"] = "content_block_stop"
    index: NonNegativeInt


class MessageDelta(GLMModel):
    stop_reason: StopReason | None = always_sent(json_schema_extra={NULLABLE: True})
    stop_sequence: str | None = always_sent(json_schema_extra={NULLABLE: True})


class MessageDeltaUsage(GLMModel):
    """The real counts of a streamed answer (GLM sends all of them here, not in message_start)."""

    output_tokens: NonNegativeInt
    input_tokens: NonNegativeInt | None = nullable()
    cache_read_input_tokens: NonNegativeInt | None = nullable()
    cache_creation_input_tokens: NonNegativeInt | None = nullable()
    server_tool_use: ServerToolUsage | None = nullable()
    service_tier: Literal["standard", "priority", "batch"] | None = nullable()


class MessageDeltaEvent(GLMModel):
    type: Literal["message_delta"] = "message_delta"
    delta: MessageDelta
    usage: MessageDeltaUsage


class MessageStopEvent(GLMModel):
    type: Literal["message_stop"] = "message_stop"


# -- errors -------------------------------------------------------------------------------------------
AnthropicErrorType = Literal[
    "invalid_request_error", "authentication_error", "permission_error", "not_found_error",
    "request_too_large", "rate_limit_error", "api_error", "overloaded_error", "billing_error",
    "timeout_error",
]


class AnthropicErrorDetail(GLMModel):
    type: AnthropicErrorType
    code: str | None = observed(
        models=("glm-4.6", "glm-4.7", "glm-5"), seen="2026-06..", era=ERA,
        note="GLM's business code inside Anthropic's envelope; the message reads "
             "'[<code>][<text>][<request_id>]'")
    message: str


class AnthropicErrorBody(GLMModel):
    """Anthropic's envelope, which GLM uses on this surface from mid-2026 (seen from June):
    `{"type": "error", "error": {"type", "code", "message"}, "request_id"}`; also a stream's
    `error` event."""

    type: Literal["error"] = "error"
    error: AnthropicErrorDetail
    request_id: str | None = observed(
        models=("glm-4.6", "glm-4.7", "glm-5"), seen="2026-06..", era=ERA,
        note="beside `error`, as on GLM's own envelope")


ErrorEvent = AnthropicErrorBody


class AuthErrorDetail(GLMModel):
    message: str
    type: str = Field(pattern=r"^\d{3}$", description="The HTTP status as a string: '401'.")


class AuthErrorBody(GLMModel):
    """The recorded 401 for a bad key: `{"error": {"message": "令牌已过期或验证不正确",
    "type": "401"}}`, neither GLM's envelope (no code) nor Anthropic's (no top-level type)."""

    model_config = observed_shape(models=_RECORDED_MODELS, seen=_RECORDED, era=ERA,
                                  note="every anthropic-error-auth recording")

    error: AuthErrorDetail


# GLM's own envelope, `{"error": {"code", "message"}, "request_id"}` with HTTP 400 (1211, 1214),
# 429 (1302, 1308): the chat-completions `ErrorBody`, recorded on this surface until mid-2026.
GLMErrorBody = ErrorBody
MessagesErrorBody = AnthropicErrorBody | GLMErrorBody | AuthErrorBody


StreamEvent = Annotated[
    MessageStartEvent | PingEvent | ContentBlockStartEvent | ContentBlockDeltaEvent
    | ContentBlockStopEvent | MessageDeltaEvent | MessageStopEvent | ErrorEvent,
    Field(discriminator="type"),
]

# Each stream event's model by its `type` (and its SSE `event:` name).
STREAM_EVENTS: dict[str, type[GLMModel]] = {
    "message_start": MessageStartEvent, "ping": PingEvent,
    "content_block_start": ContentBlockStartEvent, "content_block_delta": ContentBlockDeltaEvent,
    "content_block_stop": ContentBlockStopEvent, "message_delta": MessageDeltaEvent,
    "message_stop": MessageStopEvent, "error": ErrorEvent,
}


def error_body_model(data: Any) -> type[GLMModel]:
    """Which of the three error bodies `data` claims to be, by its shape (validate it with that
    model): Anthropic's envelope has a top-level `type`, GLM's a `code`, the 401 an inner `type`."""
    if isinstance(data, dict) and "type" in data:
        return AnthropicErrorBody
    inner = data.get("error") if isinstance(data, dict) else None
    if isinstance(inner, dict) and "type" in inner and "code" not in inner:
        return AuthErrorBody
    return GLMErrorBody
