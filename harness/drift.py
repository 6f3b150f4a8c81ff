"""Drift: do the twin's answers still have the shapes of the real API's recorded answers?

For every recorded exchange (a real request with the real answer) the same request is sent to
the twin, in-process, and the *shapes* of the two answers are compared, never their values:

- a JSON body: every field path (arrays as `[]`) with the JSON types seen there, `null` included;
- a stream: the order of chunk kinds (`reasoning`, `content`, `tool_calls`, `final`, collapsed
  runs, a leading whitespace-only `blank` chunk noted apart), which fields each kind carries,
  which kinds carry a `finish_reason`, where `usage` comes and with which fields, `[DONE]`;
- an error: the body's fields and types (the code's type above all) and the HTTP status, per
  business code, with the twin made to produce the same code.

Differences that are real but accepted are listed, each with its reason, in
`fixtures/drift/known-differences.json`; anything else is drift, and `glm-harness drift` exits 1.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._resources import fixtures_dir
from .errors import UsageError
from .sse import decode_all
from .stream import EventKind, read_stream

DEFAULT_KNOWN = fixtures_dir() / "drift" / "known-differences.json"
DEFAULT_TRANSCRIPTS = fixtures_dir() / "transcripts"
RECORDINGS_ENV = "GLM_HARNESS_REAL_TRAFFIC"
VENDORED_RECORDINGS = fixtures_dir() / "real"  # a copy of shared/real-traffic, with provenance; ships with the package

ABSENT = "absent"
Shape = dict[str, frozenset[str]]


# -- shapes of JSON values ------------------------------------------------------------------------
def json_type(value: Any) -> str:
    """The JSON type of a parsed value; integers and other numbers kept apart."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def json_shape(value: Any, path: str = "$") -> Shape:
    """Every field path in `value` (array items as `[]`) with the set of JSON types seen there."""
    found: dict[str, set[str]] = {}
    _collect(value, path, found)
    return {p: frozenset(t) for p, t in found.items()}


def _collect(value: Any, path: str, found: dict[str, set[str]]) -> None:
    found.setdefault(path, set()).add(json_type(value))
    if isinstance(value, dict):
        for key, item in value.items():
            _collect(item, f"{path}.{key}", found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, f"{path}[]", found)


def _merge(into: dict[str, set[str]], shape: Mapping[str, Iterable[str]]) -> None:
    for path, types in shape.items():
        into.setdefault(path, set()).update(types)


def _types(types: Iterable[str] | None) -> str:
    return "|".join(sorted(types)) if types else ABSENT


# -- shapes of streams ----------------------------------------------------------------------------
KINDS = ("blank", "reasoning", "content", "tool_calls", "final", "usage", "empty", "malformed")


@dataclass(frozen=True)
class StreamShape:
    """What a stream looks like, values aside. `order` leaves out a leading blank chunk."""

    order: tuple[str, ...]
    leading_blank: bool
    fields: dict[str, Shape]
    finish_reason: dict[str, frozenset[str]]
    usage_at: str
    usage_fields: Shape
    done: str
    framing: tuple[str, ...] = ()

    def describe_order(self) -> str:
        return " > ".join(self.order) or "(no chunks)"


def stream_shape(raw: bytes) -> StreamShape:
    """The shape of a raw SSE body (as recorded, or as the twin sent it), read by harness.stream."""
    events, violations = decode_all(raw)
    stream = read_stream(events)
    done = "missing"
    if events and events[-1].is_done:
        done = "last"
    elif any(e.is_done for e in events):
        done = "not last"
    fields: dict[str, dict[str, set[str]]] = {}
    finish: dict[str, set[str]] = {}
    usage_fields: dict[str, set[str]] = {}
    usage_positions: list[int] = []
    for event in stream.events:
        if not isinstance(event.data, dict):
            continue
        shape = json_shape(event.data)
        _merge(fields.setdefault(event.kind, {}),
               {p: t for p, t in shape.items() if not _is_finish_or_usage(p)})
        _merge(usage_fields, {p: t for p, t in shape.items() if p.startswith("$.usage")})
        if "usage" in event.data:
            usage_positions.append(event.n)
        for choice in event.data.get("choices") or ():
            if isinstance(choice, dict) and "finish_reason" in choice:
                finish.setdefault(event.kind, set()).add(json_type(choice["finish_reason"]))
    kinds = [e.kind for e in stream.events]
    order = tuple(str(k) for k, _ in itertools.groupby(k for k in kinds if k is not EventKind.BLANK))
    return StreamShape(
        order=order,
        leading_blank=bool(kinds) and kinds[0] is EventKind.BLANK,
        fields={str(k): {p: frozenset(t) for p, t in v.items()} for k, v in fields.items()},
        finish_reason={str(k): frozenset(v) for k, v in finish.items()},
        usage_at=_usage_at(usage_positions, len(stream.events)),
        usage_fields={p: frozenset(t) for p, t in usage_fields.items()},
        done=done,
        framing=tuple(sorted({v.kind for v in violations})),
    )


def _is_finish_or_usage(path: str) -> bool:
    return path.startswith("$.usage") or path == "$.choices[].finish_reason"


def _usage_at(positions: list[int], n: int) -> str:
    if not positions:
        return ABSENT
    if len(positions) > 1:
        return "several chunks"
    return "last chunk" if positions[0] == n - 1 else "before the last chunk"


# -- differences ----------------------------------------------------------------------------------
@dataclass
class Difference:
    """One way the twin's answer differs from the recorded one, for one recording."""

    recording: str
    aspect: str
    path: str
    recorded: str
    twin: str
    known: bool = False
    reason: str = ""

    @property
    def where(self) -> str:
        return f"{self.recording} {self.aspect} {self.path}"

    def __str__(self) -> str:
        mark = "known" if self.known else "DRIFT"
        text = f"{mark}: {self.where}: recorded {self.recorded}; twin {self.twin}"
        return text + (f" ({self.reason})" if self.reason else "")


def glob_match(value: str, pattern: str) -> bool:
    """`*` is any text and `?` one character; everything else, brackets included, is literal
    (paths like `$.choices[].delta` and `chunk[0]` are matched as written)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


@dataclass(frozen=True)
class KnownDifference:
    recording: str
    aspect: str
    path: str
    reason: str
    recorded: str = "*"
    twin: str = "*"

    def matches(self, d: Difference) -> bool:
        return all(glob_match(value, pattern) for value, pattern in (
            (d.recording, self.recording), (d.aspect, self.aspect), (d.path, self.path),
            (d.recorded, self.recorded), (d.twin, self.twin)))


@dataclass
class DriftReport:
    differences: list[Difference] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unused_known: list[KnownDifference] = field(default_factory=list)

    @property
    def unknown(self) -> list[Difference]:
        return [d for d in self.differences if not d.known]

    @property
    def ok(self) -> bool:
        return not self.unknown


def diff_shapes(recording: str, aspect: str, recorded: Shape, twin: Shape) -> list[Difference]:
    """Field-by-field: a path on one side only, or with other types. Below a path that is absent
    on one side, nothing more is said (its children are absent too, by definition)."""
    out: list[Difference] = []
    missing_roots: list[str] = []
    for path in sorted(set(recorded) | set(twin), key=_path_key):
        if any(_under(path, root) for root in missing_roots):
            continue
        mine, theirs = recorded.get(path), twin.get(path)
        if mine == theirs:
            continue
        if mine is None or theirs is None:
            missing_roots.append(path)
        out.append(Difference(recording, aspect, path, _types(mine), _types(theirs)))
    return out


def _path_key(path: str) -> tuple[int, str]:
    return path.count(".") + path.count("[]"), path


def _under(path: str, root: str) -> bool:
    return path.startswith(root) and path[len(root):len(root) + 1] in (".", "[")


def diff_streams(recording: str, recorded: StreamShape, twin: StreamShape) -> list[Difference]:
    out: list[Difference] = []

    def add(aspect: str, path: str, mine: str, theirs: str) -> None:
        if mine != theirs:
            out.append(Difference(recording, aspect, path, mine, theirs))

    add("chunk_order", "stream", recorded.describe_order(), twin.describe_order())
    add("leading_blank", "chunk[0]", _yes(recorded.leading_blank), _yes(twin.leading_blank))
    for kind in [k for k in KINDS if k in recorded.fields or k in twin.fields]:
        if kind in recorded.fields and kind in twin.fields:
            out += diff_shapes(recording, f"{kind}_chunk_fields", recorded.fields[kind], twin.fields[kind])
    add("finish_reason", "chunks carrying it", _finish(recorded.finish_reason), _finish(twin.finish_reason))
    add("usage", "position", recorded.usage_at, twin.usage_at)
    if recorded.usage_fields and twin.usage_fields:
        out += diff_shapes(recording, "usage_fields", recorded.usage_fields, twin.usage_fields)
    add("done", "[DONE]", recorded.done, twin.done)
    add("sse_framing", "violations", ", ".join(recorded.framing) or "none", ", ".join(twin.framing) or "none")
    return out


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _finish(by_kind: Mapping[str, frozenset[str]]) -> str:
    parts = [f"{k}:{_types(by_kind[k])}" for k in KINDS if k in by_kind]
    return ", ".join(parts) or ABSENT


# -- known differences ----------------------------------------------------------------------------
def load_known(path: Path | None) -> list[KnownDifference]:
    if path is None or not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["differences"] if isinstance(data, dict) else data
        return [KnownDifference(**{k: v for k, v in e.items() if k in _KNOWN_FIELDS}) for e in entries]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UsageError(f"cannot read the known differences in {path}: {error}") from None


_KNOWN_FIELDS = {"recording", "aspect", "path", "reason", "recorded", "twin"}


def _classify(differences: list[Difference], known: list[KnownDifference]) -> list[KnownDifference]:
    used: set[int] = set()
    for d in differences:
        for i, entry in enumerate(known):
            if entry.matches(d):
                d.known, d.reason = True, entry.reason
                used.add(i)
                break
    return [entry for i, entry in enumerate(known) if i not in used]


# -- the twin, in-process ------------------------------------------------------------------------
@dataclass
class Answer:
    """What came back: status, content type, body bytes (JSON or raw SSE)."""

    status: int | None
    content_type: str
    body: bytes
    transport_error: str | None = None


class _Twin:
    """Sends requests to a fresh in-process twin (respx router, no sockets)."""

    def __enter__(self) -> _Twin:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def send(self, body: Mapping[str, Any] | bytes, *, model: str | None = None,
             key: str | bool | None = True, config: Any = None, times: int = 1) -> Answer:
        """`key`: True for the twin's key, None for no Authorization header, or a key string.
        The request is sent `times` times (to reach a rate limit); the last answer counts."""
        import dataclasses

        from .client import GLMClient
        from .contract import DEFAULT_MODEL
        from .mock import GLMTwin, TwinConfig, twin_router
        from .targets import MOCK_BASE_URL, Secret, mock_target

        twin = GLMTwin(config or TwinConfig())
        target = mock_target(model or (body.get("model") if isinstance(body, Mapping) else None)
                             or DEFAULT_MODEL)
        if key is not True:
            target = dataclasses.replace(target, api_key=Secret(key) if isinstance(key, str) else None)
        with twin_router(twin, base_url=MOCK_BASE_URL), GLMClient(target) as client:
            for _ in range(times):
                exchange = client.send(body)
        error = exchange.transport_error
        return Answer(exchange.status, exchange.content_type, exchange.body, str(error) if error else None)


# -- recorded exchanges ---------------------------------------------------------------------------
@dataclass
class Recorded:
    label: str
    request: dict[str, Any]
    answer: Answer
    streamed: bool


def _index(folder: Path) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    path = folder / "INDEX.jsonl"
    if not path.exists():
        return entries
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and "file" in entry:
                entries[entry["file"]] = entry
    return entries


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{path} is not JSON: {error}") from None


def _recorded_exchanges(root: Path, notes: list[str]) -> Iterator[Recorded]:
    for request_path in sorted(root.rglob("*.request.json")):
        stem = request_path.name[: -len(".request.json")]
        label = str(request_path.parent.relative_to(root) / stem) if request_path.parent != root else stem
        index = _index(request_path.parent)
        request = _read_json(request_path)
        if not isinstance(request, dict):
            raise UsageError(f"{request_path} is not a JSON object")
        found = [(request_path.with_name(stem + suffix), is_sse)
                 for suffix, is_sse in ((".response.sse", True), (".response.json", False))
                 if request_path.with_name(stem + suffix).exists()]
        if not found:
            notes.append(f"{label}: a request without a recorded answer; skipped")
            continue
        answer_path, streamed = found[0]
        meta = index.get(answer_path.name, {})
        try:
            raw = answer_path.read_bytes()
        except OSError as error:
            raise UsageError(f"cannot read {answer_path}: {error.strerror}") from None
        # No INDEX entry: the status was 200 (an answer was recorded), the Content-Type unknown.
        answer = Answer(meta.get("status", 200), meta.get("content_type") or "", raw)
        yield Recorded(label, request, answer, streamed)


def _compare_exchange(rec: Recorded, twin: _Twin) -> list[Difference]:
    mine = twin.send(rec.request)
    out: list[Difference] = []
    if mine.transport_error:
        return [Difference(rec.label, "transport", "exchange", "completed", mine.transport_error)]
    if rec.answer.status != mine.status:
        return [Difference(rec.label, "status", "HTTP status", str(rec.answer.status),
                           f"{mine.status} {mine.body[:160].decode('utf-8', 'replace')}")]
    if rec.answer.content_type and _media(rec.answer.content_type) != _media(mine.content_type):
        out.append(Difference(rec.label, "content_type", "Content-Type", rec.answer.content_type,
                              mine.content_type))
    if mine.status != 200:
        out += diff_shapes(rec.label, "error_body", _json_shape_of(rec.answer.body),
                           _json_shape_of(mine.body))
    elif rec.streamed:
        out += diff_streams(rec.label, stream_shape(rec.answer.body), stream_shape(mine.body))
    else:
        out += diff_shapes(rec.label, "body", _json_shape_of(rec.answer.body),
                           _json_shape_of(mine.body))
    return out


def _media(content_type: str) -> str:
    """`text/event-stream;charset=UTF-8` and `text/event-stream; charset=utf-8` are one thing."""
    return re.sub(r"\s+", "", content_type).lower()


def _json_shape_of(raw: bytes) -> Shape:
    try:
        return json_shape(json.loads(raw))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"$": frozenset({"not JSON"})}


# -- recorded errors ------------------------------------------------------------------------------
_STATUS_IN_NAME = re.compile(r"__(\d{3})_(\d{3,4})")

_UNKNOWN_KEY = "00000000000000000000000000000000.glmHarnessNoSuchKey"


def _twin_error_recipes() -> dict[str, dict[str, Any]]:
    """How to make the twin answer each business code: the body (model glm-4.6 unless it says),
    the key (True: the twin's own; None: no Authorization header), a config, how many sends."""
    from .mock import EMPTY_BALANCE_KEY, EXPIRED_KEY, Limits, TwinConfig

    hello = {"messages": [{"role": "user", "content": "Say hi"}]}
    return {
        "1000": {"body": hello, "key": _UNKNOWN_KEY},
        "1001": {"body": hello, "key": None},
        "1002": {"body": hello, "key": "not-a-key"},
        "1003": {"body": hello, "key": EXPIRED_KEY},
        "1113": {"body": hello, "key": EMPTY_BALANCE_KEY},
        "1210": {"body": {**hello, "model": "glm-4.7-flash", "max_tokens": 99999999}},
        "1211": {"body": {**hello, "model": "glm-nonexistent"}},
        "1214": {"body": {"messages": []}},
        "1261": {"body_factory": _overlong_prompt},
        "1302": {"body": hello, "config": TwinConfig(limits=Limits(requests=1, per_seconds=60)), "times": 2},
    }


def _overlong_prompt() -> dict[str, Any]:
    from .contract import model_card

    card = model_card("glm-4.5-flash")
    assert card is not None
    return {"model": "glm-4.5-flash",
            "messages": [{"role": "user", "content": "lorem ipsum " * (card.context_window // 2 + 1000)}]}


@dataclass
class RecordedError:
    label: str
    code: str
    status: int | None
    body: Any


def _recorded_errors(root: Path, notes: list[str]) -> Iterator[RecordedError]:
    folders = sorted({p.parent for p in root.rglob("*.json") if p.parent.name == "errors"})
    for folder in folders:
        index = _index(folder)
        for path in sorted(folder.glob("*.json")):
            label = str(path.relative_to(root).with_suffix(""))
            body = _read_json(path)
            inner = body.get("error") if isinstance(body, dict) and "error" in body else body
            if not isinstance(inner, dict) or "code" not in inner:
                notes.append(f"{label}: no error code in the body; skipped")
                continue
            if isinstance(body, dict) and "error" not in body:
                # Recorded as the inner object a client surfaced; the API sends {"error": {...}}.
                body = {"error": body}
            meta = index.get(path.name, {})
            status = meta.get("http_status")
            match = _STATUS_IN_NAME.search(path.name)
            if status is None and match:
                status = int(match.group(1))
            yield RecordedError(label, str(inner["code"]), status, body)


def _compare_error(rec: RecordedError, twin: _Twin, notes: list[str]) -> list[Difference]:
    recipe = _twin_error_recipes().get(rec.code)
    if recipe is None:
        return [Difference(rec.label, "error_code", rec.code, f"code {rec.code}", "cannot produce it")]
    body = recipe["body_factory"]() if "body_factory" in recipe else recipe["body"]
    body = {"model": "glm-4.6", **body}
    mine = twin.send(body, key=recipe.get("key", True), config=recipe.get("config"),
                     times=recipe.get("times", 1))
    if mine.transport_error:
        return [Difference(rec.label, "transport", "exchange", "completed", mine.transport_error)]
    out: list[Difference] = []
    try:
        twin_body = json.loads(mine.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        twin_body = None
    twin_code = twin_body.get("error", {}).get("code") if isinstance(twin_body, dict) else None
    if str(twin_code) != rec.code:
        out.append(Difference(rec.label, "error_code", rec.code, repr(rec.code), repr(twin_code)))
    if rec.status is None:
        notes.append(f"{rec.label}: HTTP status not recorded; status not compared")
    elif rec.status != mine.status:
        out.append(Difference(rec.label, "error_status", rec.code, str(rec.status), str(mine.status)))
    out += diff_shapes(rec.label, "error_body", json_shape(rec.body), json_shape(twin_body))
    return out


# -- transcripts (harness.transcript) -----------------------------------------------------------
def _transcript_exchanges(folder: Path, notes: list[str]) -> Iterator[Recorded]:
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        notes.append(f"transcripts: none in {folder}; skipped")
        return
    try:
        from .transcript import load
    except ImportError:  # an older checkout without the transcript format
        notes.append(f"transcripts: harness.transcript is not available; {len(files)} file(s) in "
                     f"{folder} skipped")
        return
    for path in files:
        label = f"transcripts/{path.stem}"
        try:
            transcript = load(path)
        except (OSError, ValueError) as error:  # pydantic's ValidationError is a ValueError
            first = str(error).strip().splitlines()[0]
            notes.append(f"{label}: not a transcript ({type(error).__name__}: {first}); skipped")
            continue
        request = transcript.request.json_body
        if request is None or transcript.transport_error or transcript.status is None:
            notes.append(f"{label}: no JSON request or no complete answer recorded; skipped")
            continue
        content_type = transcript.headers.get("content-type", "")
        answer = Answer(transcript.status, content_type, transcript.response_bytes)
        yield Recorded(label, dict(request), answer, transcript.stream)


# -- the report -----------------------------------------------------------------------------------
def drift_report(recordings_dir: Path | str | None, transcripts_dir: Path | str | None = None,
                 known: Path | str | list[KnownDifference] | None = DEFAULT_KNOWN) -> DriftReport:
    """Compare the twin with every recording under `recordings_dir` (and the transcripts in
    `transcripts_dir`, if given; either may be None, not both); each difference is marked known
    or not."""
    if recordings_dir is None and transcripts_dir is None:
        raise UsageError("nothing to compare: give recordings, transcripts or both")
    root = Path(recordings_dir) if recordings_dir is not None else None
    if root is not None and not root.is_dir():
        raise UsageError(f"no recordings at {root} (expected a directory)")
    if transcripts_dir is not None and not Path(transcripts_dir).is_dir():
        raise UsageError(f"no transcripts at {transcripts_dir} (expected a directory)")
    if isinstance(known, list):
        entries = known
    elif known is None:
        entries = []
    else:
        path = Path(known)
        if not path.exists() and path != DEFAULT_KNOWN:  # the default may be absent (an installed package)
            raise UsageError(f"no such file: {path}")
        entries = load_known(path)
    report = DriftReport()
    with _Twin() as twin:
        for rec in _recorded_exchanges(root, report.notes) if root is not None else ():
            report.compared.append(rec.label)
            report.differences += _compare_exchange(rec, twin)
        for err in _recorded_errors(root, report.notes) if root is not None else ():
            report.compared.append(err.label)
            report.differences += _compare_error(err, twin, report.notes)
        if transcripts_dir is not None:
            for rec in _transcript_exchanges(Path(transcripts_dir), report.notes):
                report.compared.append(rec.label)
                report.differences += _compare_exchange(rec, twin)
    if not report.compared:
        where = " or ".join(str(p) for p in (root, transcripts_dir) if p is not None)
        raise UsageError(f"nothing to compare in {where}: no *.request.json, errors/*.json or transcripts")
    report.unused_known = _classify(report.differences, entries)
    return report


# -- command line ---------------------------------------------------------------------------------
def default_recordings() -> Path | None:
    env = os.environ.get(RECORDINGS_ENV)
    if env:
        return Path(env)
    return VENDORED_RECORDINGS if VENDORED_RECORDINGS.is_dir() else None


def add_drift_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add = parser.add_argument
    add("recordings", nargs="?", default=None, metavar="DIR",
        help=f"recorded real traffic: *.request.json with *.response.json|.sse, and errors/*.json "
             f"(default: ${RECORDINGS_ENV}, else fixtures/real, the vendored copy; none "
             f"when only --transcripts is given)")
    add("--transcripts", default=None, metavar="DIR",
        help="transcripts (harness.transcript) to compare as well (default, when no DIR is given: "
             "fixtures/transcripts)")
    add("--known", default=None, metavar="FILE",
        help="accepted differences, each with its reason (default: fixtures/drift/known-differences.json)")
    add("--no-known", action="store_true",
        help="list no difference as known (e.g. for recordings of a server that is not the official API)")
    add("--unknown-only", action="store_true", help="print only the differences not listed as known")
    return parser


def run_drift(args: argparse.Namespace) -> int:
    """Print every difference, one per line; 1 if any is not known, 0 if none, 2 on bad input."""
    recordings = Path(args.recordings) if args.recordings else (
        None if args.transcripts else default_recordings())
    # With no DIR given, the transcripts that ship with the harness are compared as well (alone,
    # where there are no real-traffic recordings, as in an installed package).
    transcripts = Path(args.transcripts) if args.transcripts else (
        DEFAULT_TRANSCRIPTS if not args.recordings and DEFAULT_TRANSCRIPTS.is_dir() else None)
    if recordings is None and transcripts is None:
        print(f"glm-harness drift: error: no recordings given, ${RECORDINGS_ENV} is not set, and "
              f"{VENDORED_RECORDINGS} does not exist", file=sys.stderr)
        return 2
    if recordings is None and not args.transcripts:
        print(f"note: no real-traffic recordings (give DIR or set ${RECORDINGS_ENV}); comparing the "
              f"transcripts in {transcripts}")
    known: Path | None = None if getattr(args, "no_known", False) else (
        Path(args.known) if args.known else DEFAULT_KNOWN)
    try:
        report = drift_report(recordings, transcripts, known)
    except UsageError as error:
        print(f"glm-harness drift: error: {error}", file=sys.stderr)
        return 2
    for difference in report.differences:
        if difference.known and args.unknown_only:
            continue
        print(difference)
    for note in report.notes:
        print(f"note: {note}")
    for entry in report.unused_known:
        print(f"note: known difference matched nothing (stale?): {entry.recording} {entry.aspect} {entry.path}")
    n_known = sum(1 for d in report.differences if d.known)
    print(f"{len(report.compared)} recording(s) compared: {len(report.unknown)} unknown difference(s), "
          f"{n_known} known")
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="glm-harness drift", description=__doc__.split("\n\n")[0])
    return run_drift(add_drift_arguments(parser).parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
