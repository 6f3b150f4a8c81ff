"""Transcripts and the scrubber: what a recording keeps, what it never keeps, the file on disk,
the `record` command and `pytest --glm-record`."""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path
from typing import Any

import pytest

from harness import _outcomes, scrub
from harness.client import Exchange
from harness.errors import TransportError
from harness.mock import TWIN_KEY
from harness.record import SCENARIOS, add_record_arguments, main, run_record
from harness.scrub import SCRUBBED, Scrubber, known_secrets
from harness.targets import Secret, Target
from harness.transcript import Transcript, from_exchange, load, load_all, save

KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90.SecretHalfOfTheKey42"
SECRET_HALF = KEY.split(".")[1]
SUITES = Path(__file__).resolve().parents[1] / "suites" / "contract"


def target(key: str | None = KEY) -> Target:
    return Target("live", "https://api.z.ai/api/paas/v4", "glm-4.6", Secret(key) if key else None)


def exchange(chunks: list[tuple[float, bytes]], request: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None, status: int | None = 200, **extra: Any) -> Exchange:
    sent = 1000.0
    return Exchange(
        target=target(), request=request or {"model": "glm-4.6", "stream": True,
                                             "messages": [{"role": "user", "content": "hi"}]},
        sent_at=sent, url="https://api.z.ai/api/paas/v4/chat/completions", status=status,
        headers=headers if headers is not None else {"content-type": "text/event-stream;charset=UTF-8"},
        chunks=[(sent + t, data) for t, data in chunks], ended_at=sent + 1.0, **extra)


# -- the scrubber --------------------------------------------------------------------------------
def test_scrub_text_removes_the_key_its_secret_half_and_bearer_tokens() -> None:
    s = Scrubber([KEY])
    text = f"key={KEY} half={SECRET_HALF} auth: Bearer sk-live-0123456789abcdef"
    out = s.scrub_text(text)
    assert KEY not in out and SECRET_HALF not in out and "sk-live-0123456789abcdef" not in out
    assert out.count(SCRUBBED) == 3


def test_scrub_text_keeps_the_curl_lines_env_reference() -> None:
    line = 'curl -H "Authorization: Bearer $ZAI_API_KEY" https://api.z.ai'
    assert Scrubber([KEY]).scrub_text(line) == line


def test_scrub_json_credential_headers_marked_fields_and_nested_secrets() -> None:
    s = Scrubber([KEY], {"user_id", "request_id"})
    obj = {"headers": {"Authorization": f"Bearer {KEY}", "Cookie": "a=b", "Content-Type": "application/json"},
           "user_id": "customer-42", "request_id": "r-1", "messages": [{"content": f"my key is {KEY}"}],
           "n": 3, "none": None}
    out = s.scrub_json(obj)
    assert out["headers"] == {"Authorization": f"Bearer {SCRUBBED}", "Cookie": SCRUBBED,
                              "Content-Type": "application/json"}
    assert out["user_id"] == out["request_id"] == SCRUBBED
    assert out["messages"][0]["content"] == f"my key is {SCRUBBED}"
    assert out["n"] == 3 and out["none"] is None
    assert obj["user_id"] == "customer-42", "scrub_json must not change its argument"


def test_marked_fields_are_scrubbed_in_raw_json_text_and_only_when_marked() -> None:
    raw = '{"request_id": "abc-123", "user_id":"u-9","id":"x"}'
    assert Scrubber(sensitive_fields={"user_id"}).scrub_text(raw) == (
        '{"request_id": "abc-123", "user_id":"<scrubbed>","id":"x"}')
    assert Scrubber().scrub_text(raw) == raw


def test_disabled_switches_every_scrubber_off_and_back_on() -> None:
    s = Scrubber([KEY], {"user_id"})
    with scrub.disabled():
        assert not scrub.ENABLED
        assert s.scrub_text(KEY) == KEY
        assert s.scrub_json({"user_id": "u", "Authorization": KEY}) == {"user_id": "u", "Authorization": KEY}
    assert scrub.ENABLED
    assert s.scrub_text(KEY) == SCRUBBED


def test_known_secrets_gathers_the_target_key_and_the_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAI_API_KEY", "env.key-from-zai-env")
    monkeypatch.setenv("OTHER_KEY", "other.key-from-other")
    found = known_secrets(target(), env_names=("OTHER_KEY",))
    # a superset: live targets made earlier in this process register their keys too
    assert {KEY, "env.key-from-zai-env", "other.key-from-other"} <= set(found)


def test_outcome_report_scrubbing_goes_through_the_scrubber(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAI_API_KEY", KEY)
    assert _outcomes._scrub(f"failed with {KEY}") == f"failed with {SCRUBBED}"
    with scrub.disabled():
        assert _outcomes._scrub(f"failed with {KEY}") == f"failed with {KEY}"


# -- from_exchange -------------------------------------------------------------------------------
def test_stream_chunks_keep_their_bytes_and_arrival_times_relative_to_the_send() -> None:
    data = [(0.0512, b"data: {\"a\":1}\n\n"), (0.0601, b"data: {\"a\":2}\n\n"), (0.0702, b"data: [DONE]\n\n")]
    t = from_exchange(exchange(data))
    assert t.stream and t.status == 200
    assert [c.t_ms for c in t.chunks or []] == [51.2, 60.1, 70.2]
    assert [c.raw for c in t.chunks or []] == [d for _, d in data]
    assert t.response_bytes == b"".join(d for _, d in data)
    assert t.ended_ms == 1000.0


def test_request_headers_are_kept_with_the_key_scrubbed() -> None:
    t = from_exchange(exchange([(0.01, b"data: [DONE]\n\n")]))
    assert t.request.headers["Authorization"] == f"Bearer {SCRUBBED}"
    assert KEY not in t.to_json() and SECRET_HALF not in t.to_json()


def test_response_headers_pass_an_allow_list_only() -> None:
    headers = {"content-type": "text/event-stream", "set-cookie": "session=1", "authorization": "x",
               "x-request-id": "rid", "content-length": "10", "content-encoding": "gzip",
               "server": "nginx", "x-ratelimit-remaining": "9", "retry-after": "3"}
    t = from_exchange(exchange([(0.01, b"data: [DONE]\n\n")], headers=headers))
    assert t.headers == {"content-type": "text/event-stream", "x-request-id": "rid",
                         "x-ratelimit-remaining": "9", "retry-after": "3"}


def test_a_chunk_that_is_not_utf8_is_kept_as_base64_byte_for_byte() -> None:
    text = "data: {\"c\":\"héllo\"}\n\n".encode()
    cut = text.index("é".encode()) + 1  # split the two-byte character across reads
    t = from_exchange(exchange([(0.01, text[:cut]), (0.02, text[cut:])]))
    chunks = t.chunks or []
    assert chunks[0].b64 == base64.b64encode(text[:cut]).decode() and chunks[0].data is None
    assert chunks[1].b64 is not None
    again = Transcript.model_validate_json(t.to_json())
    assert again.response_bytes == text


def test_a_key_split_across_two_reads_is_still_scrubbed() -> None:
    line = f"data: {{\"echo\":\"{KEY}\"}}\n\n".encode()
    cut = line.index(KEY.encode()) + 10
    t = from_exchange(exchange([(0.01, b"data: {}\n\n"), (0.02, line[:cut]), (0.03, line[cut:])]))
    written = t.to_json()
    assert KEY not in written and KEY[:10] not in t.response_bytes.decode()
    assert [c.t_ms for c in t.chunks or []] == [10.0, 30.0], "the split reads merge, stamped with the later"


def test_marked_request_id_is_scrubbed_where_the_response_echoes_it() -> None:
    request = {"model": "glm-4.6", "request_id": "customer-ref-7781",
               "messages": [{"role": "user", "content": "hi"}]}
    body = b'{"id":"1","request_id":"customer-ref-7781","choices":[]}'
    t = from_exchange(exchange([(0.2, body)], request=request,
                               headers={"content-type": "application/json", "x-request-id": "customer-ref-7781"}),
                      Scrubber.for_target(target(), {"request_id"}))
    assert "customer-ref-7781" not in t.to_json()
    assert t.request.json_body and t.request.json_body["request_id"] == SCRUBBED
    assert t.headers["x-request-id"] == SCRUBBED
    assert not t.stream and t.body == '{"id":"1","request_id":"<scrubbed>","choices":[]}' and t.body_ms == 200.0
    assert t.scrubbed_fields == ["request_id"]


def test_unmarked_fields_are_kept() -> None:
    request = {"model": "glm-4.6", "request_id": "keep-me-please", "user_id": "also-kept",
               "messages": [{"role": "user", "content": "hi"}]}
    t = from_exchange(exchange([(0.2, b"{}")], request=request, headers={"content-type": "application/json"}))
    assert t.request.json_body == request


def test_raw_request_and_transport_error_are_recorded() -> None:
    ex = exchange([(0.01, b"data: {}\n\n")], raw_request=b'{"model": broken',
                  transport_error=TransportError("protocol", "RemoteProtocolError", f"peer closed (key {KEY})"))
    t = from_exchange(ex)
    assert t.request.raw == '{"model": broken' and t.request_bytes == b'{"model": broken'
    assert t.transport_error == f"RemoteProtocolError: peer closed (key {SCRUBBED})"


def test_no_response_at_all() -> None:
    refused = TransportError("connect", "ConnectError", "refused")
    t = from_exchange(exchange([], status=None, headers={}, transport_error=refused))
    assert t.status is None and t.chunks is None and t.body is None


# -- files ---------------------------------------------------------------------------------------
def test_save_writes_atomically_never_overwrites_and_load_round_trips(tmp_path: Path) -> None:
    t = from_exchange(exchange([(0.01, b"data: [DONE]\n\n")]), scenario="my stream/1")
    first, second = save(t, tmp_path), save(t, tmp_path)
    assert first != second and first.exists() and second.exists()
    assert first.name.endswith("-glm-4.6-my-stream-1.json") and second.name.endswith("-2.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.name, second.name]), "temp files left"
    assert load(first) == t
    assert load_all([tmp_path]) == [t, t]
    assert json.loads(first.read_text())["chunks"] == [{"t_ms": 10.0, "data": "data: [DONE]\n\n"}]


def test_a_file_with_an_unknown_field_or_version_is_refused(tmp_path: Path) -> None:
    path = save(from_exchange(exchange([(0.01, b"x")])), tmp_path)
    doc = json.loads(path.read_text())
    for change in ({"schema_version": "2"}, {"surprise": 1}):
        path.write_text(json.dumps({**doc, **change}))
        with pytest.raises(ValueError):
            load(path)


# -- glm-harness record --------------------------------------------------------------------------
def _args(*argv: str) -> argparse.Namespace:
    return add_record_arguments(argparse.ArgumentParser()).parse_args(list(argv))


def test_record_mock_saves_one_transcript_per_request(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_record(_args("--out", str(tmp_path), "--ttft-ms", "0", "--itl-ms", "0",
                            "--sensitive", "user_id", "--user-id", "customer-123456")) == 0
    transcripts = {t.scenario: t for t in load_all([tmp_path])}
    assert set(transcripts) == {name for requests in SCENARIOS.values() for name, _ in requests}
    assert transcripts["error"].status == 400 and '"1210"' in (transcripts["error"].body or "")
    for name in ("stream", "thinking", "tool_stream"):
        assert transcripts[name].stream and len(transcripts[name].chunks or []) > 2
        assert transcripts[name].response_bytes.endswith(b"data: [DONE]\n\n")
    assert '"reasoning_content"' in transcripts["thinking"].response_bytes.decode()
    assert transcripts["parallel_tools"].body and transcripts["parallel_tools"].body.count('"type":"function"') == 2
    for path in tmp_path.iterdir():
        text = path.read_text()
        assert TWIN_KEY not in text and "customer-123456" not in text
    assert "-> " in capsys.readouterr().out


def test_record_one_scenario(tmp_path: Path) -> None:
    assert run_record(_args("--out", str(tmp_path), "--scenario", "simple", "--ttft-ms", "0")) == 0
    assert [t.scenario for t in load_all([tmp_path])] == ["simple"]


def test_record_live_without_a_key_is_one_line_and_exit_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GLM_NO_SUCH_KEY", raising=False)
    assert main(["--target", "live", "--api-key-env", "GLM_NO_SUCH_KEY", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "GLM_NO_SUCH_KEY" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("argv", [["--scenario", "nope"], ["--sensitive", "password"]])
def test_record_bad_option_is_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.count("\n") == 1


# -- pytest --glm-record --------------------------------------------------------------------------
def test_pytest_record_saves_every_exchange_of_both_client_fixtures(pytester: pytest.Pytester, tmp_path: Path) -> None:
    out = tmp_path / "recorded"
    result = pytester.runpytest_inprocess(
        str(SUITES / "test_schemas.py"), str(SUITES / "test_errors.py"), "-p", "no:cacheprovider",
        "-k", "test_plain_completion_conforms or echoes_model_and_request_id or test_bad_key_is_401",
        "--glm-record", str(out), "--glm-record-sensitive", "request_id")
    result.assert_outcomes(passed=5)
    transcripts = load_all([out])
    assert sorted(t.scenario or "" for t in transcripts) == sorted([
        "test_plain_completion_conforms", "test_completion_echoes_model_and_request_id",
        "test_bad_key_is_401[missing]", "test_bad_key_is_401[malformed]", "test_bad_key_is_401[unknown]"])
    assert sorted(t.status or 0 for t in transcripts) == [200, 200, 401, 401, 401]
    for path in out.iterdir():
        text = path.read_text()
        assert TWIN_KEY not in text and "glm-harness-echo-0001" not in text
