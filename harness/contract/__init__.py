"""The GLM chat-completions contract: the one place the API's shapes, ranges and codes are written."""

from . import messages
from .cards import DEFAULT_MODEL, MODEL_CARDS, ModelCard, card_or_generic, model_card
from .catalogue import CATALOGUE, BusinessError, Retry, Text, business_error, is_retryable
from .error import ContentFilterEntry, ErrorBody, ErrorDetail
from .messages import (
    STREAM_EVENTS,
    AnthropicErrorBody,
    AnthropicErrorDetail,
    AuthErrorBody,
    CacheControl,
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    GLMErrorBody,
    InputJSONDelta,
    MessageDeltaEvent,
    MessageParam,
    MessagesRequest,
    MessageStartEvent,
    MessageStopEvent,
    MessagesUsage,
    PingEvent,
    SignatureDelta,
    StopReason,
    StreamEvent,
    TextBlock,
    TextDelta,
    ThinkingBlock,
    ThinkingDelta,
    ToolParam,
    ToolResultBlock,
    ToolUseBlock,
    error_body_model,
)
from .request import (
    AssistantMessage,
    ChatCompletionRequest,
    FunctionDefinition,
    FunctionTool,
    Message,
    NamedToolChoice,
    SystemMessage,
    Thinking,
    ToolMessage,
    UserMessage,
)
from .response import (
    AssistantReply,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    CompletionTokensDetails,
    Delta,
    DeltaToolCall,
    FinishReason,
    FunctionCall,
    ToolCall,
    Usage,
)
from .validation import Finding, Mode, Validated, strict_findings, strict_report, validate

# The Messages answer is `messages.Message` (Anthropic's name); `Message` here is the
# chat-completions message union, so the answer is exported as `MessagesAnswer` too.
MessagesAnswer = messages.Message

__all__ = [
    "CATALOGUE", "DEFAULT_MODEL", "MODEL_CARDS", "STREAM_EVENTS", "AnthropicErrorBody",
    "AnthropicErrorDetail", "AssistantMessage", "AssistantReply", "AuthErrorBody", "BusinessError",
    "CacheControl", "ChatCompletion", "ChatCompletionChunk", "ChatCompletionRequest", "Choice",
    "ChunkChoice", "CompletionTokensDetails", "ContentBlockDeltaEvent", "ContentBlockStartEvent",
    "ContentBlockStopEvent", "ContentFilterEntry", "Delta", "DeltaToolCall", "ErrorBody",
    "ErrorDetail", "Finding", "FinishReason", "FunctionCall", "FunctionDefinition", "FunctionTool",
    "GLMErrorBody", "InputJSONDelta", "Message", "MessageDeltaEvent", "MessageParam",
    "MessageStartEvent", "MessageStopEvent", "MessagesAnswer", "MessagesRequest", "MessagesUsage",
    "Mode", "ModelCard", "NamedToolChoice", "PingEvent", "Retry", "SignatureDelta", "StopReason",
    "StreamEvent", "SystemMessage", "Text", "TextBlock", "TextDelta", "Thinking", "ThinkingBlock",
    "ThinkingDelta", "ToolCall", "ToolMessage", "ToolParam", "ToolResultBlock", "ToolUseBlock",
    "Usage", "UserMessage", "Validated", "business_error", "card_or_generic", "error_body_model",
    "is_retryable", "messages", "model_card", "strict_findings", "strict_report", "validate",
]
