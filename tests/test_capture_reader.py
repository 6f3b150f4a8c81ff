"""The one reader of the 2026 capture layout (harness.recordings), on both surfaces: what it puts
back into a request, what it keeps of an answer it cannot name, and what validate and scan say of
every file. The wrappers are written here; they are not copies of the recorded files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.contract import Mode
from harness.recordings import Kind, capture_exchanges, capture_request, scan
from harness.surface import Surface
from harness.validate import REJECTED_REQUEST, UNKNOWN, validate_file, validate_paths

HELLO = [{"role": "user", "content": "Say hello"}]


def _wrapper(protocol: str, **fields: Any) -> dict[str, Any]:
    return {"protocol": protocol, "streaming": False, "scenario": "x", "model": "glm-4.7",
            "request": {"model": "glm-4.7", "messages": HELLO}, **fields}


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_what_the_script_sent_beside_the_request_is_put_back_and_extra_body_left_out(protocol: str) -> None:
    wrapper = _wrapper(protocol, system_sent="Be brief.", max_tokens_sent=64,
                       extra_body_sent={"thinking": {"type": "enabled"}},
                       rounds=[{"round": 1, "request_messages": HELLO, "response": {}},
                               {"round": 2, "request_messages": [*HELLO, {"role": "assistant", "content": "Hi"},
                                                                 {"role": "user", "content": "Again"}],
                                "response": {}}])
    requests = [request for _, request, _ in capture_exchanges(wrapper)]
    assert [part for part, _, _ in capture_exchanges(wrapper)] == ["round1", "round2"]
    for request in requests:
        assert request["max_tokens"] == 64 and "extra_body" not in request
        if protocol == "anthropic":
            assert request["system"] == "Be brief." and request["messages"][0]["role"] == "user"
        else:  # each round as sent: its own messages after the system message
            assert request["messages"][0] == {"role": "system", "content": "Be brief."}
    assert len(requests[1]["messages"]) == (3 if protocol == "anthropic" else 4)


def test_the_model_index_jsonl_says_was_sent_replaces_the_nominal_one() -> None:
    meta = {"caveats": ['actual request model was "this-model-does-not-exist-999" (wrapper shows the nominal)']}
    assert capture_request(_wrapper("anthropic"), meta=meta)["model"] == "this-model-does-not-exist-999"
    assert capture_request(_wrapper("anthropic"))["model"] == "glm-4.7"


@pytest.mark.parametrize(("protocol", "kind", "model"), [("openai", Kind.COMPLETION, "ChatCompletion"),
                                                         ("anthropic", Kind.MESSAGE, "Message")])
def test_an_answer_of_no_known_shape_is_kept_and_fails_validation(tmp_path: Path, protocol: str, kind: Kind,
                                                                  model: str) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps(_wrapper(protocol, max_tokens_sent=64, response={"surprise": True})))
    notes: list[str] = []
    found = scan([tmp_path], notes)
    assert [(r.kind, r.surface) for r in found] == [(Kind.REQUEST, Surface(protocol)), (kind, Surface(protocol))]
    assert notes == []
    findings = validate_file(path).findings
    assert findings and all(f.path.startswith("response") for f in findings), findings


@pytest.mark.parametrize(("status", "code"), [(400, "1214"), (401, "1000"), (429, "1302")])
def test_what_a_refused_request_breaks_is_a_notice_whatever_the_status(tmp_path: Path, status: int,
                                                                       code: str) -> None:
    wrapper = _wrapper("openai", request={"model": "glm-4.7", "messages": []}, response={
        "error": True, "http_code": status, "reason": "refused",
        "body": {"error": {"code": code, "message": "no"}}})
    path = tmp_path / "w.json"
    path.write_text(json.dumps(wrapper))
    report = validate_file(path, Mode.STRICT)
    assert report.findings == []
    assert [(n.path, n.kind) for n in report.notices] == [("request.$.messages", REJECTED_REQUEST)]
    assert report.notices[0].message.endswith(f"(the server refused this request with HTTP {status})")


def test_every_file_of_a_folder_is_said_none_silently(tmp_path: Path) -> None:
    (tmp_path / "w.json").write_text(json.dumps(_wrapper("anthropic", max_tokens_sent=64, response={
        "error": True, "http_code": 401, "body": {"error": {"message": "bad key", "type": "401"}}})))
    (tmp_path / "notes.txt").write_text("what I did today")
    (tmp_path / "README.md").write_text("notes")
    reports = {r.path.name: r for r in validate_paths([tmp_path])}
    assert {name: r.kind for name, r in reports.items()} == {
        "README.md": "skipped", "notes.txt": UNKNOWN, "w.json": "capture (anthropic)"}
    assert "neither JSON nor an SSE stream" in reports["notes.txt"].reason
    notes: list[str] = []
    assert len(scan([tmp_path], notes)) == 2 and notes == ["notes.txt: neither JSON nor an SSE stream; skipped"]


def test_json_nested_too_deep_is_a_note_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    notes: list[str] = []
    assert scan([tmp_path], notes) == [] and notes == ["deep: JSON nested too deep; skipped"]
