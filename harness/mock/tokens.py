"""The twin's tokenizer: deterministic, cheap, and the single rule for every token count it reports.

It is not GLM's tokenizer and does not try to be; what matters is that the twin's `usage` agrees
with the text it sends (one streamed piece is one token), so benchmarks can be checked exactly.
"""

from __future__ import annotations

import json
import re

from ..contract import ChatCompletionRequest, Message

_PIECE = re.compile(r"\s*[\w']{1,8}|\s*[^\w\s]|\s+$", re.UNICODE)

# GLM's chat template wraps each message in a few special tokens.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REQUEST = 2


def tokenize(text: str) -> list[str]:
    """Split text into pieces whose concatenation is the text itself."""
    return _PIECE.findall(text)


def count_tokens(text: str) -> int:
    return len(tokenize(text))


def message_tokens(message: Message) -> int:
    content = message.to_wire().get("content", "")
    text = content if isinstance(content, str) else json.dumps(content)
    calls = getattr(message, "tool_calls", None) or ()
    return TOKENS_PER_MESSAGE + count_tokens(text) + sum(
        count_tokens(call.function.name + call.function.arguments) for call in calls
    )


def prompt_tokens(request: ChatCompletionRequest) -> int:
    total = TOKENS_PER_REQUEST + sum(message_tokens(m) for m in request.messages)
    for tool in request.tools or ():
        total += count_tokens(json.dumps(tool.to_wire(), separators=(",", ":")))
    return total
