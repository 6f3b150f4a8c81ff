"""Validate wire data against a contract model, leniently or strictly, and say what is wrong.

Every problem comes back as a `Finding` with a JSON path, so a suite or the `validate` command
can print exactly where an answer left the contract instead of a pydantic traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ._base import ALWAYS_SENT, NULLABLE, marker

M = TypeVar("M", bound=BaseModel)


class Mode(StrEnum):
    LENIENT = "lenient"
    STRICT = "strict"


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True, slots=True)
class Validated(Generic[M]):
    model: M | None
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.findings


def validate(model_cls: type[M], data: Any, mode: Mode = Mode.LENIENT) -> Validated[M]:
    try:
        instance = model_cls.model_validate(data)
    except ValidationError as error:
        return Validated(None, [_from_pydantic(e, data) for e in error.errors()])
    findings = list(strict_findings(instance)) if mode is Mode.STRICT else []
    return Validated(instance, findings)


def strict_findings(instance: BaseModel, path: str = "$") -> Iterator[Finding]:
    """What the real API never does: unknown fields, `null` values, missing always-sent fields."""
    for name in instance.model_extra or {}:
        yield Finding(f"{path}.{name}", "unknown_field", "field is not in the GLM contract")
    fields_set = instance.model_fields_set
    for name, field in type(instance).model_fields.items():
        key = field.alias or name
        here = f"{path}.{key}"
        value = getattr(instance, name)
        if name not in fields_set:
            if marker(field.json_schema_extra, ALWAYS_SENT):
                yield Finding(here, "missing_field", "GLM always sends this field; it is missing")
            continue
        if value is None and not marker(field.json_schema_extra, NULLABLE):
            yield Finding(here, "null_value", "GLM omits this field rather than sending null")
        yield from _walk(value, here)


def _walk(value: Any, path: str) -> Iterator[Finding]:
    if isinstance(value, BaseModel):
        yield from strict_findings(value, path)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")


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
