"""Validate wire data against a contract model, leniently or strictly, and say what is wrong.

Every problem comes back as a `Finding` with a JSON path, so a suite or the `validate` command
can print exactly where an answer left the contract instead of a pydantic traceback.

Strict mode sorts what it sees by where the contract's knowledge comes from: a *documented*
field is silent, a field *observed* in real traffic but not documented is a notice (real GLM sends
it: not drift), and an *unknown* field, a `null`, or a missing always-sent field is drift.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ._base import ALWAYS_SENT, NULLABLE, PROVENANCE, marker
from .cards import ModelCard, model_card

M = TypeVar("M", bound=BaseModel)

DRIFT = "drift"
NOTICE = "notice"
OBSERVED_FIELD = "observed_field"
UNKNOWN_FIELD = "unknown_field"


class Mode(StrEnum):
    LENIENT = "lenient"
    STRICT = "strict"


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    kind: str
    message: str
    severity: str = DRIFT

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True, slots=True)
class Validated(Generic[M]):
    """`findings` break the contract; `notices` are undocumented facts real GLM is known to send."""

    model: M | None
    findings: list[Finding]
    notices: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def validate(model_cls: type[M], data: Any, mode: Mode = Mode.LENIENT) -> Validated[M]:
    try:
        instance = model_cls.model_validate(data)
    except ValidationError as error:
        return Validated(None, [_from_pydantic(e, data) for e in error.errors()])
    if mode is not Mode.STRICT:
        return Validated(instance, [])
    seen = list(strict_report(instance))
    return Validated(instance, [f for f in seen if f.severity == DRIFT],
                     [f for f in seen if f.severity == NOTICE])


def strict_findings(instance: BaseModel, path: str = "$") -> Iterator[Finding]:
    """What the real API never does: unknown fields, `null` values, missing always-sent fields."""
    return (f for f in strict_report(instance, path) if f.severity == DRIFT)


def strict_report(instance: BaseModel, path: str = "$", *, card: ModelCard | None = None,
                  era: str | None = None) -> Iterator[Finding]:
    """Drift and notices. `card` (read from the top-level `model` when not given) decides the
    card-dependent fields; `era="2025"` treats what was first observed later as unknown."""
    if card is None and isinstance(getattr(instance, "model", None), str):
        card = model_card(instance.model)  # type: ignore[attr-defined]
    context = _Context(card, era)
    return context.walk_model(instance, path)


@dataclass(frozen=True, slots=True)
class _Context:
    card: ModelCard | None
    era: str | None

    def walk_model(self, instance: BaseModel, path: str) -> Iterator[Finding]:
        facts = marker(type(instance).model_config.get("json_schema_extra"), PROVENANCE)
        if isinstance(facts, dict):
            yield self._observed(path, facts, "this shape")
        for name in instance.model_extra or {}:
            yield Finding(f"{path}.{name}", UNKNOWN_FIELD, "field is not in the GLM contract")
        fields_set = instance.model_fields_set
        for name, info in type(instance).model_fields.items():
            here = f"{path}.{info.alias or name}"
            extra = info.json_schema_extra
            if name not in fields_set:
                if self._expected(marker(extra, ALWAYS_SENT)):
                    yield Finding(here, "missing_field", "GLM always sends this field; it is missing")
                continue
            value = getattr(instance, name)
            if value is None and not marker(extra, NULLABLE):
                yield Finding(here, "null_value", "GLM omits this field rather than sending null")
            if isinstance(facts := marker(extra, PROVENANCE), dict):
                yield self._observed(here, facts, "field")
            yield from self._walk(value, here)

    def _walk(self, value: Any, path: str) -> Iterator[Finding]:
        if isinstance(value, BaseModel):
            yield from self.walk_model(value, path)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                yield from self._walk(item, f"{path}[{i}]")

    def _expected(self, always: Any) -> bool:
        if isinstance(always, str):  # a card flag: expected unless the model's card says otherwise
            return self.card is None or bool(getattr(self.card, always, True))
        return bool(always)

    def _observed(self, path: str, facts: dict[str, Any], what: str) -> Finding:
        seen = f"{', '.join(facts.get('models', ()))} ({facts.get('seen', '?')})"
        if self.era is not None and str(facts.get("era", "")) > self.era:
            return Finding(path, UNKNOWN_FIELD, f"{what} is not in the {self.era} contract; "
                                                f"first observed on {seen}")
        return Finding(path, OBSERVED_FIELD, f"{what} is undocumented; observed in real traffic "
                                             f"on {seen}", NOTICE)


def _json_path(loc: tuple[Any, ...], data: Any) -> str:
    """pydantic's loc less the union tags it inserts ('user', 'str', ...): a real JSON path."""
    path = "$"
    for n, part in enumerate(loc):
        last = n == len(loc) - 1
        if isinstance(data, list) and isinstance(part, int) and part < len(data):
            path, data = f"{path}[{part}]", data[part]
        elif isinstance(data, dict) and (part in data or last):
            path, data = f"{path}.{part}", data.get(part)
    return path


def _from_pydantic(error: Any, data: Any) -> Finding:
    path = _json_path(tuple(error["loc"]), data)
    shown = repr(error.get("input"))
    if len(shown) > 80:
        shown = shown[:77] + "..."
    message = error["msg"] if error["type"] == "missing" else f"{error['msg']} (got {shown})"
    return Finding(path, error["type"], message)
