"""The error body: `{"error": {"code": "<string>", "message": "<text>"}}`, and what 2026 adds."""

from __future__ import annotations

from pydantic import Field

from ._base import GLMModel, observed


class ErrorDetail(GLMModel):
    code: str = Field(description="The business code, a string such as '1210' (never a number).")
    message: str


class ContentFilterEntry(GLMModel):
    """Which turn the content filter blocked, and how severely (1301 bodies)."""

    level: int | None = None
    role: str | None = None


class ErrorBody(GLMModel):
    error: ErrorDetail
    request_id: str | None = observed(
        models=("glm-4.7", "glm-5"), seen="2026", era="2026",
        note="some 2026 error bodies carry it beside `error` (shared/glm-api.md)")
    content_filter: list[ContentFilterEntry] | None = observed(
        alias="contentFilter", models=("glm-4.6", "glm-4.7"), seen="2026", era="2026",
        note="1301 bodies add it beside `error` (shared/glm-api.md); no public recording found")
