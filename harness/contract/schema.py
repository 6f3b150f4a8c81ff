"""Export the contract as JSON Schema files; the models are the source, the files a view."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from .error import ErrorBody
from .messages import AnthropicErrorBody, Message, MessagesRequest
from .request import ChatCompletionRequest
from .response import ChatCompletion, ChatCompletionChunk

SCHEMAS: dict[str, type[BaseModel]] = {
    "chat-completion-request": ChatCompletionRequest,
    "chat-completion": ChatCompletion,
    "chat-completion-chunk": ChatCompletionChunk,
    "error": ErrorBody,
    "messages-request": MessagesRequest,
    "message": Message,
    "messages-error": AnthropicErrorBody,
}


def schema_text(model: type[BaseModel]) -> str:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              **model.model_json_schema(mode="validation")}
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def export_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMAS.items():
        path = directory / f"{name}.schema.json"
        path.write_text(schema_text(model), encoding="utf-8")
        written.append(path)
    return written
