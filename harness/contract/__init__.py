"""The GLM chat-completions contract: the one place the API's shapes, ranges and codes are written."""

from .cards import DEFAULT_MODEL, MODEL_CARDS, ModelCard, card_or_generic, model_card
from .catalogue import CATALOGUE, BusinessError, Retry, Text, business_error, is_retryable
from .error import ContentFilterEntry, ErrorBody, ErrorDetail
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

__all__ = [
    "CATALOGUE", "DEFAULT_MODEL", "MODEL_CARDS", "AssistantMessage", "AssistantReply",
    "BusinessError", "ChatCompletion", "ChatCompletionChunk", "ChatCompletionRequest", "Choice",
    "ChunkChoice", "CompletionTokensDetails", "ContentFilterEntry", "Delta", "DeltaToolCall",
    "ErrorBody", "ErrorDetail", "Finding", "FinishReason", "FunctionCall", "FunctionDefinition",
    "FunctionTool", "Message", "Mode", "ModelCard", "NamedToolChoice", "Retry", "SystemMessage",
    "Text", "Thinking", "ToolCall", "ToolMessage", "Usage", "UserMessage", "Validated",
    "business_error", "card_or_generic", "is_retryable", "model_card", "strict_findings",
    "strict_report", "validate",
]
