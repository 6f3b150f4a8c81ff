"""Drift: the twin's answers against recorded real answers, compared by shape.

Runs `drift_report` over fixtures/real (the vendored ground truth) and fails on any difference not
listed in fixtures/drift/known-differences.json; then proves on synthetic recordings that each
kind of difference (an extra field, a null, a numeric code, a wrong status, a stream without
usage or [DONE]) is reported, and that the twin compared with itself shows none.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from harness.client import GLMClient
from harness.drift import (
    DEFAULT_KNOWN,
    VENDORED_MESSAGES_RECORDINGS,
    VENDORED_RECORDINGS,
    Difference,
    KnownDifference,
    add_drift_arguments,
    diff_shapes,
    drift_report,
    glob_match,
    json_shape,
    load_known,
    run_drift,
    stream_shape,
)
from harness.errors import UsageError
from harness.mock import GLMTwin, twin_router
from harness.sse import decode_all
from harness.stream import read_stream
from harness.targets import MOCK_BASE_URL, mock_target

REAL_TRAFFIC = VENDORED_RECORDINGS
REAL_2026 = VENDORED_MESSAGES_RECORDINGS  # the Messages surface's
TRANSCRIPTS = Path(__file__).resolve().parents[1] / "fixtures" / "transcripts"

HELLO = {"model": "glm-4.6", "messages": [{"role": "user", "content": "Say hello"}]}
WEATHER = {
    "model": "glm-4.6",
    "messages": [{"role": "user", "content": "What's the weather in Florence, Italy?"}],
    "tools": [{"type": "function", "function": {
        "name": "weather", "description": "Get weather information for a location",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                       "required": ["location"]}}}],
    "tool_choice": "auto",
}



def _twin_answer(request: dict[str, Any]) -> bytes:
    """The twin's own answer to `request`, as bytes (JSON body or raw SSE)."""
    with twin_router(GLMTwin(), base_url=MOCK_BASE_URL), GLMClient(mock_target(request["model"])) as client:
        exchange = client.send(request)
    assert exchange.status == 200, exchange.body
    return exchange.body


def _write_exchange(root: Path, name: str, request: dict[str, Any], answer: bytes,
                    index: dict[str, Any] | None = None) -> None:
    folder = root / "streams-and-bodies"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.request.json").write_text(json.dumps(request))
    suffix = ".response.sse" if request.get("stream") else ".response.json"
    (folder / f"{name}{suffix}").write_bytes(answer)
    if index is not None:
        with (folder / "INDEX.jsonl").open("a") as handle:
            handle.write(json.dumps({"file": f"{name}{suffix}", **index}) + "\n")


def _write_error(root: Path, name: str, body: Any) -> None:
    folder = root / "errors"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(body, ensure_ascii=False))


def _only(report_differences: list[Difference], recording: str) -> list[tuple[str, str, str, str]]:
    return [(d.aspect, d.path, d.recorded, d.twin) for d in report_differences if d.recording.endswith(recording)]


# -- the ground truth ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_report() -> Any:
    """The real traffic (both surfaces) and the transcripts against the twin, compared once for
    this module."""
    return drift_report([REAL_TRAFFIC, REAL_2026], transcripts_dir=TRANSCRIPTS)


def test_twin_has_not_drifted_from_the_real_traffic(real_report: Any) -> None:
    report = real_report
    unknown = "\n".join(str(d) for d in report.unknown)
    assert not report.unknown, f"the twin drifted from the recorded API:\n{unknown}"
    recordings = [label for label in report.compared if not label.startswith("transcripts/")]
    assert len(recordings) >= 46, f"expected every recording compared, got {len(recordings)}"
    assert any(label.startswith("errors/") for label in report.compared)
    assert sum("__anthropic__" in label for label in report.compared) == 153  # every Messages exchange


def test_every_known_difference_still_occurs(real_report: Any) -> None:
    """An entry that matches nothing is stale: it would hide the next real drift."""
    report = real_report
    stale = [str(e) for e in report.unused_known]
    assert not stale, f"known differences that no longer occur (remove them): {stale}"


def test_known_differences_file_gives_a_reason_for_each_entry() -> None:
    known = load_known(DEFAULT_KNOWN)
    assert known, "fixtures/drift/known-differences.json is empty or missing"
    assert all(len(entry.reason) > 20 for entry in known), "every known difference needs a reason"


def test_the_recorded_transcripts_are_compared(tmp_path: Path) -> None:
    if not any(TRANSCRIPTS.glob("*.json")):
        pytest.skip(f"no transcripts in {TRANSCRIPTS}")
    _write_exchange(tmp_path, "hello", HELLO, _twin_answer(HELLO))
    report = drift_report(tmp_path, transcripts_dir=TRANSCRIPTS, known=[])
    compared = [label for label in report.compared if label.startswith("transcripts/")]
    assert len(compared) == len(list(TRANSCRIPTS.glob("*.json"))), report.notes
    assert report.differences == [], [str(d) for d in report.differences]


def _transcript_of(request: dict[str, Any], folder: Path) -> Path:
    from harness.transcript import from_exchange, save

    with twin_router(GLMTwin(), base_url=MOCK_BASE_URL), GLMClient(mock_target(request["model"])) as client:
        return save(from_exchange(client.send(request), scenario="drift"), folder)


def test_a_difference_in_a_transcript_is_reported(tmp_path: Path) -> None:
    path = _transcript_of({**HELLO, "stream": True}, tmp_path / "transcripts")
    data = json.loads(path.read_text())
    data["chunks"] = [c for c in data["chunks"] if "[DONE]" not in c.get("data", "")]
    path.write_text(json.dumps(data))
    _write_exchange(tmp_path / "rec", "hello", HELLO, _twin_answer(HELLO))
    report = drift_report(tmp_path / "rec", transcripts_dir=tmp_path / "transcripts", known=[])
    found = _only(report.differences, path.stem)
    assert ("done", "[DONE]", "missing", "last") in found, [str(d) for d in report.differences]


def test_an_unreadable_transcript_is_a_note_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "transcripts").mkdir()
    (tmp_path / "transcripts" / "one.json").write_text("{}")
    _write_exchange(tmp_path / "rec", "hello", HELLO, _twin_answer(HELLO))
    report = drift_report(tmp_path / "rec", transcripts_dir=tmp_path / "transcripts", known=[])
    assert any(note.startswith("transcripts/one: not a transcript") for note in report.notes), report.notes
    assert report.ok


# -- the twin against itself: nothing to report ----------------------------------------------------
@pytest.mark.parametrize("request_body", [
    HELLO, {**HELLO, "stream": True}, WEATHER, {**WEATHER, "stream": True},
    {**HELLO, "thinking": {"type": "disabled"}, "stream": True},
], ids=["plain", "stream", "tool", "tool-stream", "no-thinking-stream"])
def test_the_twin_compared_with_itself_shows_no_difference(tmp_path: Path, request_body: dict[str, Any]) -> None:
    _write_exchange(tmp_path, "self", request_body, _twin_answer(request_body))
    report = drift_report(tmp_path, known=[])
    assert report.differences == [], [str(d) for d in report.differences]


# -- synthetic differences are reported ------------------------------------------------------------
def test_an_extra_field_is_reported(tmp_path: Path) -> None:
    body = json.loads(_twin_answer(HELLO))
    body["system_fingerprint"] = "fp_1"
    _write_exchange(tmp_path, "extra", HELLO, json.dumps(body).encode())
    report = drift_report(tmp_path, known=[])
    assert _only(report.differences, "extra") == [("body", "$.system_fingerprint", "string", "absent")]
    assert not report.ok and report.unknown[0].known is False


def test_a_null_is_reported(tmp_path: Path) -> None:
    body = json.loads(_twin_answer(HELLO))
    body["choices"][0]["message"]["tool_calls"] = None
    body["usage"]["prompt_tokens_details"]["cached_tokens"] = None
    _write_exchange(tmp_path, "nulls", HELLO, json.dumps(body).encode())
    report = drift_report(tmp_path, known=[])
    assert set(_only(report.differences, "nulls")) == {
        ("body", "$.choices[].message.tool_calls", "null", "absent"),
        ("body", "$.usage.prompt_tokens_details.cached_tokens", "null", "integer"),
    }


def test_a_missing_field_is_reported_once_not_per_child(tmp_path: Path) -> None:
    body = json.loads(_twin_answer(HELLO))
    del body["usage"]
    _write_exchange(tmp_path, "nousage", HELLO, json.dumps(body).encode())
    report = drift_report(tmp_path, known=[])
    assert _only(report.differences, "nousage") == [("body", "$.usage", "absent", "object")]


def test_a_numeric_error_code_is_reported(tmp_path: Path) -> None:
    _write_error(tmp_path, "numeric__400_1211", {"error": {"code": 1211, "message": "Unknown Model"}})
    report = drift_report(tmp_path, known=[])
    assert ("error_body", "$.error.code", "integer", "string") in _only(report.differences, "numeric__400_1211")


def test_a_wrong_status_for_a_code_is_reported(tmp_path: Path) -> None:
    _write_error(tmp_path, "status__500_1211", {"error": {"code": "1211", "message": "Unknown Model"}})
    report = drift_report(tmp_path, known=[])
    assert _only(report.differences, "status__500_1211") == [("error_status", "1211", "500", "400")]


def test_an_inner_error_object_is_compared_as_the_wrapped_body(tmp_path: Path) -> None:
    _write_error(tmp_path, "inner__429_1113", {"code": "1113", "message": "余额不足或无可用资源包,请充值。"})
    report = drift_report(tmp_path, known=[])
    assert report.differences == [], [str(d) for d in report.differences]


@pytest.mark.parametrize("code", ["1000", "1001", "1002", "1113", "1210", "1211", "1261", "1302"])
def test_the_twin_produces_each_recorded_error_code(tmp_path: Path, code: str) -> None:
    status = {"1000": 401, "1001": 401, "1002": 401, "1113": 429, "1302": 429}.get(code, 400)
    _write_error(tmp_path, f"e__{status}_{code}", {"error": {"code": code, "message": "x"}})
    report = drift_report(tmp_path, known=[])
    assert report.differences == [], [str(d) for d in report.differences]


def test_an_error_code_the_twin_cannot_produce_is_reported(tmp_path: Path) -> None:
    _write_error(tmp_path, "e__429_1309", {"error": {"code": "1309", "message": "plan expired"}})
    report = drift_report(tmp_path, known=[])
    assert _only(report.differences, "e__429_1309") == [("error_code", "1309", "code 1309", "cannot produce it")]


def _sse(chunks: list[dict[str, Any]], done: bool = True) -> bytes:
    events = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)
    return events + (b"data: [DONE]\n\n" if done else b"")


def _twin_chunks(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [e.data for e in read_stream(decode_all(_twin_answer(request))[0]).events]


def test_a_stream_without_usage_or_done_is_reported(tmp_path: Path) -> None:
    request = {**HELLO, "stream": True}
    chunks = _twin_chunks(request)
    del chunks[-1]["usage"]
    _write_exchange(tmp_path, "openaiish", request, _sse(chunks, done=False))
    found = _only(drift_report(tmp_path, known=[]).differences, "openaiish")
    assert ("usage", "position", "absent", "last chunk") in found
    assert ("done", "[DONE]", "missing", "last") in found


def test_null_finish_reasons_and_extra_fields_in_chunks_are_reported(tmp_path: Path) -> None:
    request = {**HELLO, "stream": True}
    chunks = _twin_chunks(request)
    for chunk in chunks:
        chunk["system_fingerprint"] = "fp_1"
        chunk["choices"][0].setdefault("finish_reason", None)
    _write_exchange(tmp_path, "vllmish", request, _sse(chunks))
    found = _only(drift_report(tmp_path, known=[]).differences, "vllmish")
    assert ("finish_reason", "chunks carrying it", "reasoning:null, content:null, final:string",
            "final:string") in found
    assert ("reasoning_chunk_fields", "$.system_fingerprint", "string", "absent") in found
    assert ("final_chunk_fields", "$.system_fingerprint", "string", "absent") in found


def test_a_different_chunk_order_is_reported(tmp_path: Path) -> None:
    request = {**HELLO, "stream": True}
    chunks = _twin_chunks(request)
    reasoning = [c for c in chunks if c["choices"][0]["delta"].get("reasoning_content")]
    content = [c for c in chunks if c["choices"][0]["delta"].get("content")]
    _write_exchange(tmp_path, "swapped", request, _sse(content + reasoning + chunks[-1:]))
    found = _only(drift_report(tmp_path, known=[]).differences, "swapped")
    assert ("chunk_order", "stream", "content > reasoning > final", "reasoning > content > final") in found


def test_a_twin_rejection_of_a_recorded_request_is_reported(tmp_path: Path) -> None:
    request = {**HELLO, "temperature": 1.5}  # the twin answers 400 1210 to what was recorded as 200
    _write_exchange(tmp_path, "rejected", request, _twin_answer(HELLO))
    found = _only(drift_report(tmp_path, known=[]).differences, "rejected")
    assert len(found) == 1 and found[0][:3] == ("status", "HTTP status", "200") and "1210" in found[0][3]


def test_a_content_type_difference_is_reported(tmp_path: Path) -> None:
    _write_exchange(tmp_path, "html", HELLO, _twin_answer(HELLO), index={"status": 200, "content_type": "text/html"})
    found = _only(drift_report(tmp_path, known=[]).differences, "html")
    assert found == [("content_type", "Content-Type", "text/html", "application/json; charset=UTF-8")]


# -- known differences ---------------------------------------------------------------------------
def test_a_known_difference_is_marked_with_its_reason_and_unused_entries_are_listed(tmp_path: Path) -> None:
    body = json.loads(_twin_answer(HELLO))
    body["system_fingerprint"] = "fp_1"
    _write_exchange(tmp_path, "extra", HELLO, json.dumps(body).encode())
    known = [KnownDifference("body", "$.system_fingerprint", "OpenAI-style servers send it", model="glm-4.6"),
             KnownDifference("done", "*", "never happens here"),
             KnownDifference("done", "*", "a 2025 matter, and no 2025 answer was compared", era="2025")]
    report = drift_report(tmp_path, known=known)
    assert report.ok and report.differences[0].known and report.differences[0].reason == "OpenAI-style servers send it"
    assert [e.reason for e in report.unused_known] == ["never happens here"]


def test_a_known_difference_for_another_model_does_not_match(tmp_path: Path) -> None:
    body = json.loads(_twin_answer(HELLO))
    body["system_fingerprint"] = "fp_1"
    _write_exchange(tmp_path, "extra", HELLO, json.dumps(body).encode())
    report = drift_report(tmp_path, known=[KnownDifference("body", "$.system_fingerprint", "x", model="glm-5")])
    assert not report.ok


def test_glob_treats_brackets_literally() -> None:
    assert glob_match("$.choices[].delta.content", "$.choices[].delta.*")
    assert glob_match("chunk[0]", "chunk[0]") and not glob_match("chunk0", "chunk[0]")
    assert glob_match("glm-4.5", "glm-4.*") and not glob_match("glm-5", "glm-4.*")


# -- the shape extractor ---------------------------------------------------------------------------
def test_json_shape_records_types_per_path_with_arrays_collapsed() -> None:
    shape = json_shape({"a": [1, 2.5, None], "b": {"c": True}, "d": "x"})
    assert shape == {"$": {"object"}, "$.a": {"array"}, "$.a[]": {"integer", "number", "null"},
                     "$.b": {"object"}, "$.b.c": {"boolean"}, "$.d": {"string"}}


def test_diff_shapes_reports_type_and_presence() -> None:
    recorded = {"$": frozenset({"object"}), "$.x": frozenset({"string"})}
    twin = {"$": frozenset({"object"}), "$.x": frozenset({"null", "string"}), "$.y": frozenset({"integer"})}
    found = diff_shapes("r", "body", recorded, twin)
    assert [(d.path, d.recorded, d.twin) for d in found] == [
        ("$.x", "string", "null|string"), ("$.y", "absent", "integer")]


def test_stream_shape_of_a_recorded_style_stream() -> None:
    chunks = [
        {"id": "1", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "\n"}}]},
        {"id": "1", "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "Hm"}}]},
        {"id": "1", "choices": [{"index": 0, "finish_reason": "tool_calls", "delta": {"tool_calls": [
            {"id": "c", "index": 0, "type": "function", "function": {"name": "f", "arguments": "{}"}}]}}]},
        {"id": "1", "choices": [{"index": 0, "finish_reason": "tool_calls",
                                 "delta": {"role": "assistant", "content": ""}}],
         "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}},
    ]
    shape = stream_shape(_sse(chunks))
    assert shape.order == ("reasoning", "tool_calls", "final") and shape.leading_blank
    assert shape.finish_reason == {"tool_calls": {"string"}, "final": {"string"}}
    assert shape.usage_at == "last chunk" and shape.done == "last"
    assert "$.choices[].delta.tool_calls[].function.arguments" in shape.fields["tool_calls"]
    assert "$.choices[].finish_reason" not in shape.fields["final"]
    assert set(shape.usage_fields) == {"$.usage", "$.usage.prompt_tokens", "$.usage.completion_tokens",
                                       "$.usage.total_tokens"}


# -- the command ----------------------------------------------------------------------------------
def _run(argv: list[str]) -> int:
    return run_drift(add_drift_arguments(argparse.ArgumentParser()).parse_args(argv))


def test_run_drift_prints_each_difference_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = json.loads(_twin_answer(HELLO))
    body["logprobs"] = "x"
    body["system_fingerprint"] = None
    _write_exchange(tmp_path, "extra", HELLO, json.dumps(body).encode())
    known = tmp_path / "known.json"
    known.write_text(json.dumps({"differences": [
        {"aspect": "body", "path": "$.system_fingerprint", "reason": "accepted for this test"}]}))
    assert _run([str(tmp_path), "--known", str(known)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "DRIFT: streams-and-bodies/extra body $.logprobs [glm-4.6, 2026]: recorded string; twin absent" in lines
    assert any(line.startswith("known: streams-and-bodies/extra body $.system_fingerprint") for line in lines)
    assert lines[-1].startswith("1 recording(s) compared: 1 unknown difference(s), 1 known")
    assert _run([str(tmp_path), "--known", str(known), "--unknown-only"]) == 1
    assert not any(line.startswith("known:") for line in capsys.readouterr().out.splitlines())


def test_run_drift_exits_0_when_nothing_differs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_exchange(tmp_path, "same", HELLO, _twin_answer(HELLO))
    assert _run([str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("1 recording(s) compared: 0 unknown")


@pytest.mark.parametrize("setup", ["missing-dir", "empty-dir", "bad-json", "bad-known"])
def test_run_drift_bad_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   setup: str) -> None:
    argv = [str(tmp_path / "nowhere")]
    if setup == "empty-dir":
        argv = [str(tmp_path)]
    elif setup == "bad-json":
        (tmp_path / "x.request.json").write_text("{not json")
        argv = [str(tmp_path)]
    elif setup == "bad-known":
        _write_exchange(tmp_path, "same", HELLO, _twin_answer(HELLO))
        (tmp_path / "known.json").write_text("[{\"nope\": 1}]")
        argv = [str(tmp_path), "--known", str(tmp_path / "known.json")]
    assert _run(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("glm-harness drift: error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_run_drift_over_the_real_traffic_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run([str(REAL_TRAFFIC)]) == 0
    out = capsys.readouterr().out
    assert "DRIFT:" not in out and "known: " in out


def test_run_drift_over_transcripts_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A self-hosted server's transcripts (glm-harness record --target live --base-url ...)."""
    _transcript_of(HELLO, tmp_path / "self-hosted")
    assert _run(["--transcripts", str(tmp_path / "self-hosted"), "--no-known"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 recording(s) compared: 0 unknown difference(s), 0 known"


# -- by behaviour, not by name ---------------------------------------------------------------------
def _renamed_copy(source: Path, target: Path) -> None:
    """Every exchange renamed `rec-N.request.json`/`rec-N.response.*`, every error body
    `err-N.json`, all in other folders; no INDEX.jsonl."""
    exchanges = sorted({p.name.split(".request.")[0] for p in source.rglob("*.request.json")})
    (target / "one" / "two").mkdir(parents=True)
    (target / "elsewhere").mkdir()
    for n, stem in enumerate(exchanges):
        for path in source.rglob(f"{stem}.*"):
            role = "request" if ".request." in path.name else "response"
            (target / "one" / "two" / f"rec-{n}.{role}{path.suffix}").write_bytes(path.read_bytes())
    errors = sorted(p for p in source.rglob("*.json") if ".request." not in p.name and ".response." not in p.name)
    for n, path in enumerate(errors):
        (target / "elsewhere" / f"err-{n}.json").write_bytes(path.read_bytes())


def _counts(report: Any) -> tuple[int, int, int]:
    return len(report.compared), len(report.unknown), sum(d.known for d in report.differences)


def test_a_renamed_copy_of_the_real_traffic_gives_the_same_counts(tmp_path: Path, real_report: Any) -> None:
    _renamed_copy(REAL_TRAFFIC, tmp_path)
    original = real_report
    renamed = drift_report([tmp_path, REAL_2026], transcripts_dir=TRANSCRIPTS)
    assert _counts(renamed) == _counts(original)
    assert sorted(str(e) for e in renamed.unused_known) == sorted(str(e) for e in original.unused_known)


def test_a_known_difference_is_recognised_whatever_the_file_is_called(tmp_path: Path) -> None:
    body = json.loads(_twin_answer(HELLO))
    body["system_fingerprint"] = "fp_1"
    known = [KnownDifference("body", "$.system_fingerprint", "accepted here")]
    for name in ("a", "zz-totally-different"):
        _write_exchange(tmp_path / name, name, HELLO, json.dumps(body).encode())
        assert drift_report(tmp_path / name, known=known).ok


def test_an_entry_keyed_by_recording_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "known.json"
    path.write_text(json.dumps({"differences": [
        {"recording": "errors/*", "aspect": "body", "path": "$.x", "reason": "by name"}]}))
    with pytest.raises(UsageError, match="keyed by behaviour"):
        load_known(path)


def test_the_known_differences_file_names_no_recording() -> None:
    data = json.loads(DEFAULT_KNOWN.read_text())
    assert all("recording" not in entry for entry in data["differences"])


# -- any folder: answers without their request, the era of each answer -----------------------------
def test_an_answer_without_its_request_is_compared_with_a_stand_in(tmp_path: Path) -> None:
    (tmp_path / "answer-only.json").write_bytes(_twin_answer(WEATHER))
    report = drift_report(tmp_path, known=[])
    assert report.compared == ["answer-only"]
    assert report.differences == [], [str(d) for d in report.differences]


def test_a_stream_without_its_request_is_compared_with_a_stand_in(tmp_path: Path) -> None:
    (tmp_path / "capture.sse").write_bytes(_twin_answer({**WEATHER, "stream": True}))
    report = drift_report(tmp_path, known=[])
    assert report.differences == [], [str(d) for d in report.differences]


def test_a_2025_answer_is_compared_with_the_2025_profile(tmp_path: Path) -> None:
    body = json.loads(_twin_answer(HELLO))
    del body["object"], body["usage"]["completion_tokens_details"]  # what a 2025 answer lacks
    _write_exchange(tmp_path, "old", HELLO, json.dumps(body).encode())
    assert drift_report(tmp_path, known=[]).differences == []
    forced = drift_report(tmp_path, known=[], profile="2026")
    assert _only(forced.differences, "old") == [
        ("body", "$.object", "absent", "string"),
        ("body", "$.usage.completion_tokens_details", "absent", "object")]
    assert {(d.model, d.era) for d in forced.differences} == {("glm-4.6", "2025")}


def test_2026_fields_missing_from_the_twin_are_drift(tmp_path: Path) -> None:
    """The 2025 twin against a 2026 answer: what learn would propose, drift reports."""
    request = {**HELLO, "model": "glm-4.7"}
    _write_exchange(tmp_path, "new", request, _twin_answer(request))
    found = set(_only(drift_report(tmp_path, known=[], profile="2025").differences, "new"))
    assert {("body", "$.object", "string", "absent"),
            ("body", "$.usage.completion_tokens_details", "object", "absent")} <= found


@pytest.mark.parametrize(("code", "status"), [("1301", 400), ("1305", 429), ("1310", 429), ("1234", 500)])
def test_the_twin_produces_the_2026_error_codes(tmp_path: Path, code: str, status: int) -> None:
    body: dict[str, Any] = {"error": {"code": code, "message": "x"}}
    if code == "1301":
        body["contentFilter"] = [{"level": 1, "role": "user"}]
    _write_error(tmp_path, f"e__{status}_{code}", body)
    report = drift_report(tmp_path, known=[])
    assert report.differences == [], [str(d) for d in report.differences]


# -- matching a known difference: every field, the whole value (issue 21's planted bugs) -------------
def _difference(model: str = "glm-4.6", recorded: str = "string", twin: str = "absent") -> Any:
    from harness.drift import Difference

    return Difference("rec", "content_chunk_fields", "$.choices[].delta.content", recorded, twin,
                      model=model, era="2026")


def test_a_known_difference_matches_its_recorded_and_twin_values_only() -> None:
    entry = KnownDifference("content_chunk_fields", "$.choices[].delta.content", "GLM sends it empty",
                            recorded="string", twin="absent")
    assert entry.matches(_difference())
    assert not entry.matches(_difference(recorded="null")), "the recorded value must match too"
    assert not entry.matches(_difference(twin="string")), "the twin's value must match too"
    assert not entry.matches(_difference(recorded="absent", twin="string")), "not the other way round"


def test_a_known_difference_names_a_model_whole_not_by_prefix() -> None:
    entry = KnownDifference("content_chunk_fields", "$.choices[].delta.content", "glm-4.6 only", model="glm-4.6")
    assert entry.matches(_difference(model="glm-4.6"))
    for other in ("glm-4.6v", "glm-4.6-flash", "glm-4", "xglm-4.6"):
        assert not entry.matches(_difference(model=other)), f"glm-4.6 taken for {other}"
    assert KnownDifference("content_chunk_fields", "*", "every 4.6", model="glm-4.6*").matches(
        _difference(model="glm-4.6v")), "a glob says so when it means a family"
