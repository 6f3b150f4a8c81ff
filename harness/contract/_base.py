"""The base every contract model derives from, and the markers that drive strict mode.

A model is written once. Lenient validation is plain pydantic with unknown fields allowed (what the
official SDKs tolerate). Strict validation adds what the real GLM API has always done, read from
the field markers below: it sends these fields every time, and it omits a field rather than
sending `null`. A deviation from either is drift, even when a client would not notice.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

ALWAYS_SENT = "x-glm-always-sent"
NULLABLE = "x-glm-nullable"


class GLMModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON object as GLM sends it: unset optional fields omitted, never `null`."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


def always_sent(default: Any = None, **kwargs: Any) -> Any:
    """A field the real API always sends; lenient mode tolerates its absence, strict does not."""
    extra = {ALWAYS_SENT: True, **kwargs.pop("json_schema_extra", {})}
    return Field(default, json_schema_extra=extra, **kwargs)


def nullable(default: Any = None, **kwargs: Any) -> Any:
    """A field the real API may send as an explicit `null` (strict mode accepts it)."""
    return Field(default, json_schema_extra={NULLABLE: True}, **kwargs)


def marker(field_extra: Any, name: str) -> bool:
    return isinstance(field_extra, dict) and bool(field_extra.get(name))
