"""Hypothesis strategies for requests, derived from the contract's own JSON Schema.

Valid requests draw every documented parameter from its schema (ranges, enums, multipleOf)
with `hypothesis-jsonschema`, narrowed only where a live run must stay cheap (small
max_tokens, short messages). Invalid requests break exactly one bound that the schema or the
model card states, and carry the business code the contract says the API must answer with.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from .contract import ChatCompletionRequest, ModelCard
from .contract.catalogue import code_for_invalid

# Sampling and shape parameters a cheap single-turn request may carry; `tools` and friends have
# their own suites, where the scenario matters more than the values.
PARAMETERS = (
    "temperature", "top_p", "do_sample", "max_tokens", "stop", "thinking", "response_format",
    "user_id", "request_id", "stream",
)
_WORDS = st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=12)
_SENTENCE = st.lists(_WORDS, min_size=1, max_size=8).map(" ".join)


@dataclass(frozen=True, slots=True)
class InvalidRequest:
    body: dict[str, Any]
    param: str
    expected_code: str


@functools.cache
def _schema() -> dict[str, Any]:
    """Read-only: pydantic rebuilds the schema on every call, a cost paid per drawn example."""
    return ChatCompletionRequest.model_json_schema()


def parameter_schema(name: str, card: ModelCard, max_tokens_cap: int) -> dict[str, Any]:
    """One parameter's schema without its `null` branch (GLM omits rather than nulls)."""
    schema = _schema()
    prop = copy.deepcopy(schema["properties"][name])
    branches = [b for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]
    chosen = {**branches[0], "$defs": schema["$defs"]}
    chosen.pop("default", None)
    if name == "max_tokens":
        chosen["maximum"] = min(max_tokens_cap, card.max_output_tokens)
    if name in ("user_id", "request_id"):
        chosen["pattern"] = r"^[A-Za-z0-9_-]+$"
    if name == "stop":
        chosen["items"] = {"type": "string", "pattern": r"^[A-Za-z]{2,8}$"}
    if name == "thinking" and not card.accepts_thinking_disabled():
        chosen = {"type": "object", "properties": {"type": {"const": "enabled"}}, "required": ["type"]}
    return chosen


def from_contract(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """hypothesis-jsonschema for the leaves; objects composed here, because its object
    generator relies on a hypothesis internal that changed (hypothesis >= 6.13x)."""
    defs = schema.get("$defs", defs or {})
    ref = schema.get("$ref")
    if ref:
        return from_contract(defs[ref.rsplit("/", 1)[-1]], defs)
    if schema.get("type") == "object" and "properties" in schema:
        props = schema["properties"]
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {k: from_contract(v, defs) for k, v in props.items() if k in required},
            optional={k: from_contract(v, defs) for k, v in props.items() if k not in required},
        )
    leaf = {k: v for k, v in schema.items() if k not in ("$defs", "title", "default")}
    return from_schema(leaf)


@st.composite
def messages(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A system prompt (sometimes) and one non-blank user message: the smallest valid dialogue."""
    dialogue = []
    if draw(st.booleans()):
        dialogue.append({"role": "system", "content": draw(_SENTENCE)})
    dialogue.append({"role": "user", "content": draw(_SENTENCE)})
    return dialogue


@st.composite
def valid_requests(draw: st.DrawFn, card: ModelCard, max_tokens_cap: int = 16) -> dict[str, Any]:
    body: dict[str, Any] = {"model": card.name, "messages": draw(messages())}
    chosen = draw(st.sets(st.sampled_from(PARAMETERS)))
    for name in sorted(chosen):
        body[name] = draw(from_contract(parameter_schema(name, card, max_tokens_cap)))
    body.setdefault("max_tokens", draw(st.integers(1, max_tokens_cap)))
    return body


def _numeric_bounds() -> dict[str, dict[str, float]]:
    bounds = {}
    for name, prop in _schema()["properties"].items():
        for branch in prop.get("anyOf", [prop]):
            found = {k: branch[k] for k in ("minimum", "maximum") if k in branch}
            if found:
                bounds[name] = found
    return bounds


@st.composite
def invalid_requests(draw: st.DrawFn, card: ModelCard) -> InvalidRequest:
    """A valid request with exactly one contract bound broken."""
    body = draw(valid_requests(card, max_tokens_cap=4))
    body.pop("stream", None)
    bounds = _numeric_bounds()
    high = card.max_output_tokens
    breakers = {
        **{f"{name}<min": _below(b["minimum"], name) for name, b in bounds.items() if "minimum" in b},
        **{f"{name}>max": _above(b["maximum"], name) for name, b in bounds.items() if "maximum" in b},
        "max_tokens>card": st.integers(high + 1, high * 4),
        "temperature.decimals": st.integers(1, 999).map(lambda n: n / 1000).filter(
            lambda t: round(t, 2) != t),
        "messages.empty": st.just([]),
        "messages.role": _SENTENCE.flatmap(lambda text: st.sampled_from(
            ["developer", "function", "bot"]).map(lambda role: [{"role": role, "content": text}])),
        "model.unknown": _WORDS.map(lambda w: f"glm-nonexistent-{w.lower()}"),
    }
    case = draw(st.sampled_from(sorted(breakers)))
    param = case.split("<")[0].split(">")[0].split(".")[0]
    body[param] = draw(breakers[case])
    return InvalidRequest(body, param, code_for_invalid(param))


def _below(minimum: float, name: str) -> st.SearchStrategy[Any]:
    if name in ("max_tokens",):
        return st.integers(-1000, int(minimum) - 1)
    return st.floats(-10.0, minimum, exclude_max=True).map(lambda x: round(x, 2)).filter(
        lambda x: x < minimum)


def _above(maximum: float, name: str) -> st.SearchStrategy[Any]:
    return st.floats(maximum, 10.0, exclude_min=True).map(lambda x: round(x, 2)).filter(
        lambda x: x > maximum)
