"""The error body: `{"error": {"code": "<string>", "message": "<text>"}}`, and what 2026 adds; and
OpenAI's documented error object, which the openai-compatible profile holds a server to."""

from __future__ import annotations

from pydantic import Field

from ._base import GLMModel, observed


class ErrorDetail(GLMModel):
    code: str = Field(description="The business code, a string such as '1210' (never a number).")
    message: str


class ContentFilterEntry(GLMModel):
    """Which turn the content filter blocked (`user`: the input, `assistant`: the output) and how
    severely (0, the most severe, to 3): docs.z.ai content security."""

    level: int | None = Field(None, ge=0, le=3)
    role: str | None = None


class ErrorBody(GLMModel):
    error: ErrorDetail
    request_id: str | None = observed(
        models=("glm-4.7", "glm-5"), seen="2026", era="2026",
        note="some 2026 error bodies carry it beside `error` (shared/glm-api.md)")
    # 1301 bodies carry it beside `error` (documented, docs.z.ai content security; seen in 2024-2026
    # bodies quoted by clients).
    content_filter: list[ContentFilterEntry] | None = Field(None, alias="contentFilter")


class OpenAIErrorDetail(GLMModel):
    """OpenAI's error object (API reference, "Error codes"): `code` is a string such as
    "model_not_found" or `null`, never a number; `type` and `param` name the kind of error and the
    parameter at fault. GLM's own bodies fit it too (a string code, no type)."""

    message: str
    type: str | None = None
    param: str | None = None
    code: str | None = None


class OpenAIErrorBody(GLMModel):
    error: OpenAIErrorDetail
