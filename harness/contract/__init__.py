"""The GLM chat-completions contract: the one place the API's shapes, ranges and codes are written."""

from .cards import DEFAULT_MODEL, MODEL_CARDS, ModelCard, card_or_generic, model_card
from .catalogue import CATALOGUE, BusinessError, Retry, business_error, is_retryable
from .error import ErrorBody, ErrorDetail
from .request import (
    AssistantMessage,
    ChatCompletionRequest,
    FunctionDefinition,
    FunctionTool,
    Message,
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
    Delta,
    DeltaToolCall,
    FinishReason,
    FunctionCall,
    ToolCall,
    Usage,
)
from .validation import Finding, Mode, Validated, strict_findings, validate

__all__ = [
    "CATALOGUE", "DEFAULT_MODEL", "MODEL_CARDS", "AssistantMessage", "AssistantReply",
    "BusinessError", "ChatCompletion", "ChatCompletionChunk", "ChatCompletionRequest", "Choice",
    "ChunkChoice", "Delta", "DeltaToolCall", "ErrorBody", "ErrorDetail", "Finding",
    "FinishReason", "FunctionCall", "FunctionDefinition", "FunctionTool", "Message", "Mode",
    "ModelCard", "Retry", "SystemMessage", "Thinking", "ToolCall", "ToolMessage", "Usage",
    "UserMessage", "Validated", "business_error", "card_or_generic", "is_retryable", "model_card",
    "strict_findings", "validate",
]
