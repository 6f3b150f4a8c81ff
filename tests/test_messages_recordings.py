"""`validate`, `learn` and the recordings reader on Messages-surface recordings: the 120
`__anthropic__` files of shared/real-traffic-2026 (vendored in fixtures/real-2026), capture wrappers,
`event:` streams, both error envelopes and the capture script's artifacts."""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main as cli_main
from harness.contract import Mode
from harness.learn import learn
from harness.recordings import (
    Kind,
    capture_exchanges,
    capture_request,
    exchanges,
    is_messages_request,
    scan,
    undo_capture,
)
from harness.surface import Surface
from harness.validate import CAPTURE_ARTIFACT, REJECTED_REQUEST, validate_file, validate_paths

REAL_2026 = Path(__file__).resolve().parent.parent / "fixtures" / "real-2026"
FILES = sorted(p for p in REAL_2026.iterdir() if "__anthropic__" in p.name)
TXT = [p for p in FILES if p.suffix == ".txt"]


def test_the_vendored_recordings_are_all_there() -> None:
    suffixes = collections.Counter("".join(p.suffixes[-2:]) if p.name.endswith(".decoded.sse") else p.suffix
                                   for p in FILES)
    assert (len(FILES), suffixes) == (120, {".json": 84, ".txt": 18, ".decoded.sse": 18})


@pytest.mark.parametrize("mode", [Mode.LENIENT, Mode.STRICT])
def test_every_anthropic_recording_validates(mode: Mode) -> None:
    reports = validate_paths(FILES, mode)
    assert [(r.path.name, r.findings) for r in reports if r.findings] == []
    assert collections.Counter(r.kind for r in reports) == {"capture (anthropic)": 84, "message stream": 36}
    unknown = [f for r in reports for f in (*r.findings, *r.notices) if f.kind == "unknown_field"]
    assert unknown == []


def test_the_cli_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["validate", "--strict", *map(str, FILES)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2:] == [
        "120 valid, 0 invalid (strict mode)",
        "fields beyond the documented contract: 2 observed in real traffic (response.$, response.$.request_id); "
        "0 unknown (none)",
    ]


def test_a_directory_is_read_by_content_each_file_once() -> None:
    reports = validate_paths([REAL_2026])
    assert len(reports) == 120 and all(r.known and not r.findings for r in reports)


@pytest.mark.parametrize("path", TXT, ids=lambda p: p.name.split("__")[2] + "__" + p.name.split("__")[4])
def test_a_captured_stream_reads_as_the_server_sent_it(path: Path) -> None:
    raw, artifacts = undo_capture(path.read_bytes())
    decoded = path.with_name(path.name.removesuffix(".txt") + ".decoded.sse").read_bytes()
    assert raw == decoded
    assert artifacts[-1].startswith("a final data: [DONE] line")
    report = validate_file(path, Mode.STRICT)
    assert report.findings == [] and {n.kind for n in report.notices} == {CAPTURE_ARTIFACT}


def test_a_broken_message_stream_is_invalid(tmp_path: Path) -> None:
    stream = next(p for p in FILES if p.name.endswith("anthropic-streaming__737dccc7.decoded.sse"))
    text = stream.read_text(encoding="utf-8")
    cut = text[:text.index("event: message_stop")]
    broken = tmp_path / "cut.sse"
    broken.write_text(cut.replace("event: ping", "event: pong"), encoding="utf-8")
    findings = validate_file(broken).findings
    assert [(f.path, f.kind) for f in findings] == [("event[1]", "event_name"), ("stream", "missing_message_stop")]


def test_the_wrapper_gives_back_what_was_sent_beside_the_request() -> None:
    wrapper = json.loads(next(p for p in FILES if "glm-4.6__anthropic__anthropic-cache" in p.name).read_text())
    request = capture_request(wrapper)
    assert request["max_tokens"] == 1024 and request["system"][0]["type"] == "text"
    assert [part for part, _, _ in capture_exchanges(wrapper)] == ["response[0]", "response[1]", "response[2]"]
    rounds = json.loads(next(p for p in FILES if "glm-4.6__anthropic__anthropic-tool-result" in p.name).read_text())
    (first, sent1, _), (second, sent2, answer2) = capture_exchanges(rounds)
    assert (first, second) == ("round1", "round2")
    assert len(sent1["messages"]) == 1 and sent2["messages"][2]["content"][0]["type"] == "tool_result"
    assert sent2["tools"][0]["name"] == "get_weather" and answer2["stop_reason"] == "end_turn"


def test_every_answer_has_its_request_and_its_surface() -> None:
    notes: list[str] = []
    found = scan([REAL_2026], notes)
    assert notes == []
    assert {r.surface for r in found} == {Surface.ANTHROPIC}
    counts = collections.Counter(r.kind for r in found)
    assert counts == {Kind.REQUEST: 117, Kind.MESSAGE: 90, Kind.ERROR: 27, Kind.STREAM: 36}
    paired = list(exchanges(found))
    assert len(paired) == 153 and sum(1 for e in paired if e.request is None) == 36  # streams: no request
    errors = [e for e in paired if e.answer.kind is Kind.ERROR]
    assert collections.Counter(e.answer.status for e in errors) == {400: 18, 401: 9}
    assert all(e.model for e in paired)


def test_a_request_the_server_refused_is_a_notice_not_a_finding() -> None:
    empty = next(p for p in FILES if "glm-4.6__anthropic__anthropic-error-empty" in p.name)
    report = validate_file(empty)
    assert report.findings == []
    assert [(n.path, n.kind) for n in report.notices] == [("request.$.messages", REJECTED_REQUEST)]


def test_a_request_answered_200_that_breaks_the_contract_stays_a_finding(tmp_path: Path) -> None:
    wrapper = json.loads(next(p for p in FILES if "glm-4.6__anthropic__anthropic-simple" in p.name).read_text())
    del wrapper["max_tokens_sent"]
    path = tmp_path / "w.json"
    path.write_text(json.dumps(wrapper), encoding="utf-8")
    assert [(f.path, f.kind) for f in validate_file(path).findings] == [("request.$.max_tokens", "missing")]


CHAT = {"model": "glm-4.6", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}


@pytest.mark.parametrize(("request_body", "messages_api"), [
    (CHAT, False),
    ({**CHAT, "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}], "tool_choice": "auto"},
     False),
    ({**CHAT, "system": "be brief"}, True),
    ({**CHAT, "tools": [{"name": "f", "input_schema": {"type": "object"}}]}, True),
    ({**CHAT, "tool_choice": {"type": "any"}}, True),
    ({**CHAT, "thinking": {"type": "adaptive"}}, True),
    ({**CHAT, "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x"}]}]}, True),
])
def test_a_lone_request_is_read_by_what_only_the_messages_api_takes(request_body: dict[str, Any],
                                                                     messages_api: bool) -> None:
    assert is_messages_request(request_body) is messages_api


def test_a_lone_anthropic_error_body_validates_by_its_envelope(tmp_path: Path) -> None:
    bodies = {"glm.json": {"error": {"code": "1211", "message": "模型不存在"}, "request_id": "r"},
              "anthropic.json": {"type": "error", "error": {"type": "overloaded_error", "code": "1305",
                                                            "message": "[1305][overloaded][r]"}},
              "auth.json": {"error": {"message": "令牌已过期或验证不正确", "type": "401"}}}
    for name, body in bodies.items():
        (tmp_path / name).write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    reports = {r.path.name: r for r in validate_paths([tmp_path], Mode.STRICT)}
    assert {n: (r.kind, r.findings) for n, r in reports.items()} == {
        "glm.json": ("error body", []), "anthropic.json": ("error body (anthropic)", []),
        "auth.json": ("error body (anthropic)", [])}
    (tmp_path / "auth.json").write_text(json.dumps({"error": {"message": "x", "type": "bad"}}), encoding="utf-8")
    assert [f.path for f in validate_file(tmp_path / "auth.json").findings] == ["$.error.type"]


@pytest.mark.parametrize("raw", [b"{'_raw': 'data: x", b"{'_raw': " + b"[" * 5000 + b"]}", b"{'_raw': 7}"])
def test_a_broken_raw_capture_is_a_clear_error(tmp_path: Path, raw: bytes,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "capture.txt"
    path.write_bytes(raw)
    assert cli_main(["validate", str(path)]) == 2
    assert "neither JSON nor an SSE stream" in capsys.readouterr().err


def test_learn_reads_the_messages_surface() -> None:
    learned, notes = learn([REAL_2026])
    proposal = learned.as_json("current")
    assert notes == []
    assert [(f["in"], f["path"], f["status"]) for f in proposal["fields"]] == [
        ("ErrorBody", "$.request_id", "observed")]
    assert proposal["models"] == []  # glm-5-turbo, the one model without a card, has one now
    assert [(c["code"], c["locale"], c["message"]) for c in proposal["codes"]] == [("1214", "zh", "输入不能为空")]
    assert proposal["behaviours"]["tool_call_id_shapes"] == {"call_<hex>": 48}
