"""The base every contract model derives from, and the markers that drive strict mode.

A model is written once. Lenient validation is plain pydantic with unknown fields allowed (what the
official SDKs tolerate). Strict validation adds what the real GLM API has always done, read from
the field markers below: it sends these fields every time, and it omits a field rather than
sending `null`. A deviation from either is drift, even when a client would not notice.

Every field says where it comes from. An unmarked field is *documented* (docs.z.ai's chat
completion reference) and present in the 2025 recordings of shared/real-traffic. A field marked
`observed(...)` is one real GLM sends or accepts although its docs do not say so: the marker names
the models it was seen on, when, and the API era it belongs to. Strict mode reports such a field
as a notice, never as drift; only a field that is neither documented nor observed is drift.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

ALWAYS_SENT = "x-glm-always-sent"
NULLABLE = "x-glm-nullable"
PROVENANCE = "x-glm-provenance"


class GLMModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON object as GLM sends it: unset optional fields omitted, never `null`."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


def always_sent(default: Any = None, *, unless_card: str | None = None, **kwargs: Any) -> Any:
    """A field the real API always sends; lenient mode tolerates its absence, strict does not.

    `unless_card` names a model-card flag: the field is expected only from models whose card sets
    it (`prompt_tokens_details` is missing from some small models' answers)."""
    extra = {ALWAYS_SENT: unless_card or True, **kwargs.pop("json_schema_extra", {})}
    return Field(default, json_schema_extra=extra, **kwargs)


def nullable(default: Any = None, **kwargs: Any) -> Any:
    """A field the real API may send as an explicit `null` (strict mode accepts it)."""
    return Field(default, json_schema_extra={NULLABLE: True}, **kwargs)


def observed_facts(*, models: tuple[str, ...], seen: str, era: str, note: str = "") -> dict[str, Any]:
    """Where an undocumented fact comes from: the models and dates of the recordings."""
    facts: dict[str, Any] = {"source": "observed", "models": list(models), "seen": seen, "era": era}
    return facts | ({"note": note} if note else {})


def observed_shape(*, models: tuple[str, ...], seen: str, era: str, note: str = "") -> ConfigDict:
    """The config of a whole model seen only in real traffic (a forced tool_choice)."""
    facts = observed_facts(models=models, seen=seen, era=era, note=note)
    return ConfigDict(extra="allow", populate_by_name=True, json_schema_extra={PROVENANCE: facts})


def observed(default: Any = None, *, models: tuple[str, ...], seen: str, era: str, note: str = "",
             **kwargs: Any) -> Any:
    """A field real GLM sends (or accepts) that its docs do not describe."""
    extra = {PROVENANCE: observed_facts(models=models, seen=seen, era=era, note=note),
             **kwargs.pop("json_schema_extra", {})}
    return Field(default, json_schema_extra=extra, **kwargs)


def marker(field_extra: Any, name: str) -> Any:
    return field_extra.get(name) if isinstance(field_extra, dict) else None
