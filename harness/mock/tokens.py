"""The twin's tokenizer: deterministic, cheap, and the single rule for every token count it reports.

It is not GLM's tokenizer and does not try to be; what matters is that the twin's `usage` agrees
with the text it sends (one streamed piece is one token), so benchmarks can be checked exactly.
"""

from __future__ import annotations

import json
import re

from ..contract import ChatCompletionRequest

_PIECE = re.compile(r"\s*[\w']{1,8}|\s*[^\w\s]|\s+$", re.UNICODE)

# GLM's chat template wraps each message in a few special tokens.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REQUEST = 2


def tokenize(text: str) -> list[str]:
    """Split text into pieces whose concatenation is the text itself."""
    return _PIECE.findall(text)


def count_tokens(text: str) -> int:
    return len(tokenize(text))


def prompt_tokens(request: ChatCompletionRequest) -> int:
    total = TOKENS_PER_REQUEST
    for message in request.messages:
        content = message.to_wire().get("content", "")
        text = content if isinstance(content, str) else json.dumps(content)
        total += TOKENS_PER_MESSAGE + count_tokens(text)
        for call in getattr(message, "tool_calls", None) or ():
            total += count_tokens(call.function.name + call.function.arguments)
    for tool in request.tools or ():
        total += count_tokens(json.dumps(tool.to_wire(), separators=(",", ":")))
    return total
