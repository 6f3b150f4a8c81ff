"""`glm-harness learn`: from a folder of new recordings, propose the contract changes they imply.

Every recording is read by its content (`harness.recordings`) and held against the contract:
fields the contract does not have (with their JSON types, example values and the models that sent
them), undocumented fields seen on models the contract does not list yet, error codes the
catalogue lacks or states differently (status, message per locale), models with no card, and two
behaviours the contract leaves open (content beside tool calls, the shape of tool-call ids). The
result is JSON for a reviewer to read and apply by hand: a proposal, never an edit.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .contract import MODEL_CARDS, business_error, strict_report, validate
from .contract.catalogue import THINKING_ALWAYS_ON_DETAIL, invalid_parameter_message
from .drift import json_shape
from .errors import UsageError
from .recordings import Kind, Recording, documents, scan
from .surface import Surface

_CJK = re.compile(r"[\u4e00-\u9fff]")
_INDEX = re.compile(r"\[\d+\]")


@dataclass
class _Field:
    path: str
    where: str
    status: str
    types: set[str] = field(default_factory=set)
    examples: list[Any] = field(default_factory=list)
    models: set[str] = field(default_factory=set)
    files: set[str] = field(default_factory=set)
    contract_says: str = ""

    @property
    def unlisted_models(self) -> set[str]:
        """For an observed field: the models it was seen on that the contract does not list."""
        return self.models - _listed_models(self.contract_says)

    def proposal(self) -> dict[str, Any]:
        found = {"path": self.path, "in": self.where, "status": self.status, "types": sorted(self.types),
                 "examples": self.examples, "models": sorted(self.models), "files": len(self.files),
                 "contract": self.contract_says, "propose": _FIELD_PROPOSALS[self.status]}
        return found | ({"add_models": sorted(self.unlisted_models)} if self.status == "observed" else {})


_FIELD_PROPOSALS = {
    "new": "add the field to the contract model as observed(...) with these models and dates",
    "observed": "extend the field's observed(...) models with the ones listed",
    "missing": "the contract says GLM always sends it; make it optional or card-dependent",
    "invalid": "the contract rejects what real GLM sent; widen the field's type",
}


@dataclass
class Learned:
    fields: dict[tuple[str, str, str], _Field] = field(default_factory=dict)
    codes: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    tool_call_content: dict[str, int] = field(default_factory=lambda: {"with content": 0, "without": 0})
    tool_call_ids: dict[str, int] = field(default_factory=dict)
    read: int = 0

    def as_json(self, against: str) -> dict[str, Any]:
        return {
            "about": "Contract changes proposed from recorded traffic; review, then edit harness/contract.",
            "against": against,
            "recordings": self.read,
            "fields": [f.proposal() for f in sorted(self.fields.values(), key=lambda f: (f.where, f.path))
                       if f.status != "observed" or f.unlisted_models],
            "codes": sorted(self.codes.values(), key=lambda c: (c["code"], c["propose"])),
            "models": sorted(self.models.values(), key=lambda m: m["name"]),
            "behaviours": {"tool_calls_answers": self.tool_call_content,
                           "tool_call_id_shapes": dict(sorted(self.tool_call_ids.items()))},
        }


def _listed_models(contract_says: str) -> set[str]:
    head = contract_says.split(" (", 1)[0].removeprefix("on ")
    return {m.strip() for m in head.split(",") if m.strip()}


def learn(roots: Iterable[Path], against: str = "current") -> tuple[Learned, list[str]]:
    """What the recordings under `roots` teach; `against="2025"` takes as new what the contract
    knows only from 2026 recordings."""
    notes: list[str] = []
    learned = Learned()
    era = "2025" if against == "2025" else None
    for recording in scan(list(roots), notes):
        learned.read += 1
        if recording.kind is Kind.REQUEST and recording.meta.get("answered") == 400:
            continue  # a request the server refused was meant to break the contract
        for model_cls, data in documents(recording):
            _learn_document(learned, recording, model_cls, data, era)
        if recording.kind.is_error:
            _learn_error(learned, recording)
        _learn_model(learned, recording)
    if not learned.read:
        raise UsageError(f"no recordings in {' '.join(map(str, roots))}")
    return learned, notes


def _learn_document(learned: Learned, recording: Recording, model_cls: type[BaseModel], data: Any,
                    era: str | None) -> None:
    checked = validate(model_cls, data)
    model = recording.model or "?"
    where = model_cls.__name__
    if checked.model is None:
        for finding in checked.findings:
            _note_field(learned, where, finding.path, "invalid", data, model, recording, finding.message)
        return
    for finding in strict_report(checked.model, era=era):
        status = {"unknown_field": "new", "observed_field": "observed", "missing_field": "missing"}.get(finding.kind)
        if status is not None:
            _note_field(learned, where, finding.path, status, data, model, recording, finding.message)
    _learn_tool_calls(learned, data)


def _note_field(learned: Learned, where: str, path: str, status: str, data: Any, model: str,
                recording: Recording, message: str) -> None:
    path = _INDEX.sub("[]", path)
    entry = learned.fields.setdefault((where, path, status), _Field(path, where, status))
    entry.models.add(model)
    entry.files.add(recording.label)
    if status == "observed":
        entry.contract_says = message.split("observed in real traffic ", 1)[-1]
    elif status == "new" and " first observed " in message:
        entry.contract_says = "in today's contract, observed on " + message.split(" first observed on ", 1)[1]
    entry.types |= set(json_shape(data).get(path, ()))
    for value in _values_at(data, path):
        shown = value if isinstance(value, (str, int, float, bool)) or value is None else json.dumps(value)[:60]
        if shown not in entry.examples and len(entry.examples) < 3:
            entry.examples.append(shown)


def _values_at(data: Any, path: str) -> list[Any]:
    values = [data]
    for part in re.findall(r"\.([^.\[]+)|(\[\])", path):
        key, each = part
        if each:
            values = [item for v in values if isinstance(v, list) for item in v]
        else:
            values = [v[key] for v in values if isinstance(v, dict) and key in v]
    return values


def _learn_tool_calls(learned: Learned, data: Any) -> None:
    """Content beside tool calls, and the shapes of tool-call ids (a Messages answer's tool_use
    blocks, a stream's content_block_start, chat completions' tool_calls)."""
    if isinstance(data, dict) and (data.get("type") in ("message", "content_block_start")):
        found = data.get("content") if data.get("type") == "message" else [data.get("content_block")]
        blocks: list[dict[str, Any]] = [b for b in found or () if isinstance(b, dict)]
        uses = [b for b in blocks if b.get("type") == "tool_use"]
        if uses and data.get("type") == "message":
            key = "with content" if any(b.get("type") == "text" for b in blocks) else "without"
            learned.tool_call_content[key] += 1
        for use in uses:
            if isinstance(use.get("id"), str):
                shape = _id_shape(use["id"])
                learned.tool_call_ids[shape] = learned.tool_call_ids.get(shape, 0) + 1
        return
    for choice in data.get("choices") or () if isinstance(data, dict) else ():
        message = choice.get("message") if isinstance(choice, dict) else None
        delta = choice.get("delta") if isinstance(choice, dict) else None
        calls = (message or delta or {}).get("tool_calls") or ()
        if message and calls:
            key = "with content" if isinstance(message.get("content"), str) else "without"
            learned.tool_call_content[key] += 1
        for call in calls:
            if isinstance(call, dict) and isinstance(call.get("id"), str):
                shape = _id_shape(call["id"])
                learned.tool_call_ids[shape] = learned.tool_call_ids.get(shape, 0) + 1


def _id_shape(text: str) -> str:
    """`call_-8167683298435521960` -> `call_-<int>`; `call_9f86d081884c7d65...` -> `call_<hex>`."""
    for pattern, shape in ((r"-\d+$", "-<int>"), (r"(?<=_)[0-9a-f]{12,}$", "<hex>"), (r"\d+$", "<int>"),
                           (r"[0-9A-Za-z]{12,}$", "<alnum>")):
        if re.search(pattern, text):
            return re.sub(pattern, shape, text)
    return text


def _learn_error(learned: Learned, recording: Recording) -> None:
    code, status = recording.error_code, recording.status
    body = recording.error_body()
    message = body.get("error", {}).get("message") if isinstance(body, dict) else None
    if code is None or not isinstance(message, str):
        return
    locale = "zh" if _CJK.search(message) else "en"
    known = business_error(code)
    proposal: dict[str, Any] = {"code": code, "http_status": status, "locale": locale, "message": message,
                                "seen_in": recording.label}
    if known is None:
        proposal["propose"] = "add the code to the catalogue"
    elif status is not None and status != known.http_status:
        proposal["propose"] = f"the catalogue says HTTP {known.http_status}"
    elif not _matches(getattr(known, locale), message, code):
        text = getattr(known, locale)
        proposal["propose"] = (f"the catalogue's {locale} message is {text.source}: {text.template!r}"
                               if text else f"the catalogue has no {locale} message; add this recorded one")
    else:
        return
    learned.codes.setdefault((code, proposal["propose"]), proposal)


def _matches(text: Any, message: str, code: str) -> bool:
    """Whether `message` is the catalogue's text, its {fields} filled in, or (1210) one of the
    per-parameter messages the catalogue builds (`The max_tokens parameter is illegal.：...`)."""
    templates = ([text.template] if text is not None else []) + list(_PARAMETER_MESSAGES if code == "1210" else ())
    return any(re.fullmatch(re.sub(r"\\\{\w+\\\}", ".+", re.escape(t)), message) for t in templates)


_PARAMETER_MESSAGES = (
    invalid_parameter_message("{param}", "{detail}", "en"), invalid_parameter_message("{param}", None, "en"),
    invalid_parameter_message("{param}", "{detail}", "zh"), THINKING_ALWAYS_ON_DETAIL,
)


def _learn_model(learned: Learned, recording: Recording) -> None:
    model = recording.model
    if model is None or model in MODEL_CARDS:
        return
    entry = learned.models.setdefault(model, {"name": model, "files": 0, "propose": "add a model card",
                                              "seen": {}})
    entry["files"] += 1
    usage = _usage(recording)
    if usage is not None:
        seen = entry["seen"]
        seen["reports_reasoning_tokens"] = seen.get("reports_reasoning_tokens", False) or (
            "completion_tokens_details" in usage)
        seen["reports_cached_tokens"] = seen.get("reports_cached_tokens", False) or (
            "prompt_tokens_details" in usage)


def _usage(recording: Recording) -> dict[str, Any] | None:
    """Chat-completions usage, whose details say what a card should (none on the Messages surface)."""
    if recording.surface is Surface.ANTHROPIC:
        return None
    sources = [recording.data] if recording.kind is Kind.COMPLETION else recording.chunks
    for source in reversed(sources):
        if isinstance(source, dict) and isinstance(source.get("usage"), dict):
            return dict(source["usage"])
    return None


# -- command line ---------------------------------------------------------------------------------
def add_learn_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add = parser.add_argument
    add("recordings", nargs="+", metavar="DIR", help="folders (or files) of recorded traffic")
    add("--against", choices=("current", "2025"), default="current",
        help="the contract to hold them against: today's, or only what was known from 2025 "
             "(what the 2026 recordings added then shows as new)")
    add("--out", default=None, metavar="FILE", help="write the proposal here (default: stdout)")
    return parser


def run_learn(args: argparse.Namespace) -> int:
    """Print (or write) the proposal as JSON; 2 on bad input."""
    try:
        learned, notes = learn([Path(r) for r in args.recordings], args.against)
        proposal = learned.as_json(args.against) | {"notes": notes}
        text = json.dumps(proposal, indent=2, ensure_ascii=False)
        if args.out is not None:
            _write_atomically(Path(args.out), text + "\n")
    except UsageError as error:
        print(f"glm-harness learn: error: {error}", file=sys.stderr)
        return 2
    if args.out is None:
        print(text)
        return 0
    print(f"{args.out}: {len(proposal['fields'])} field(s), {len(proposal['codes'])} code(s), "
          f"{len(proposal['models'])} model(s) proposed from {learned.read} recording(s)")
    return 0


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None
