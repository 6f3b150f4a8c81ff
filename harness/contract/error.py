"""The error body: `{"error": {"code": "<string>", "message": "<text>"}}`."""

from __future__ import annotations

from pydantic import Field

from ._base import GLMModel


class ErrorDetail(GLMModel):
    code: str = Field(description="The business code, a string such as '1210' (never a number).")
    message: str


class ErrorBody(GLMModel):
    error: ErrorDetail
