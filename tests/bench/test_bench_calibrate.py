"""Calibration plumbing: the traced twin's stamps line up with the client's (no timing asserts)."""

from __future__ import annotations

import sys

import httpx

from harness.bench.calibrate import (
    CalibrationSettings,
    calibrate,
    format_table,
    twin_command,
    twin_process,
)
from harness.bench.traced_twin import TRACE_PATH
from harness.client import tls_context
from harness.mock import TWIN_KEY


def test_calibration_end_to_end_on_a_fast_twin() -> None:
    # c1 runs in this process; c3 is split over two worker processes, which send their stamps back
    settings = CalibrationSettings(concurrency=(1, 3), requests=6, ttft_ms=5, itl_ms=1,
                                   reply_tokens=4, pin=False, workers=2)
    result = calibrate(settings)
    assert result.traced and result.server_command and "traced_twin" in " ".join(result.server_command)
    assert [lv.concurrency for lv in result.levels] == [1, 3]
    for level in result.levels:
        assert level.ok == level.requests == 6 and level.tokens_exact
        assert level.ttft.n == 6 and level.itl_chunk.n == 6 * 3
        assert level.server_ttft is not None and level.server_ttft.n == 6
        assert level.ttft_vs_server is not None and level.ttft_vs_server.n == 6
        assert level.stamp_delay is not None and level.stamp_delay.n == 6 * 4
        # a chunk cannot be seen much before it was written (same monotonic clock in both
        # processes); the twin stamps once its write has returned, so a lean client on another
        # CPU may stamp a few microseconds sooner
        assert level.stamp_delay.err_p50_ms is not None and level.stamp_delay.err_p50_ms > -0.5
    assert "client split over 2 worker processes, not pinned" in result.notes
    table = format_table(result).splitlines()
    assert table[0].endswith("client in 2 workers")
    rows = [line for line in table if not line.startswith(("client-bound", "note:"))]
    assert "err nominal" in rows[3] and len(rows) == 4 + len(result.levels)
    bound = result.model_copy(deep=True)
    health = bound.levels[1].client
    assert health is not None
    health.client_bound, health.reasons = True, ["event-loop lag p99 23.6 ms (flag at >= 10 ms)"]
    assert format_table(bound).splitlines()[-1] == (
        "client-bound at c3 (event-loop lag p99 23.6 ms (flag at >= 10 ms)): its errors measure this "
        "client, not the server; spread the load (bench --workers) or lower the concurrency")


def test_traced_twin_stamps_and_openai_object() -> None:
    settings = CalibrationSettings(ttft_ms=0, itl_ms=0, reply_tokens=3)
    command = [*twin_command(settings), "--openai-object"]
    assert command[:3] == [sys.executable, "-m", "harness.bench.traced_twin"]
    with twin_process(command, None) as (url, _), httpx.Client(verify=tls_context()) as http:
        body = {"model": "glm-4.6", "stream": True, "request_id": "probe-1",
                "messages": [{"role": "user", "content": "hi"}]}
        response = http.post(url + "/chat/completions", json=body,
                             headers={"Authorization": f"Bearer {TWIN_KEY}"})
        assert response.status_code == 200
        assert response.text.count('data: {"object":"chat.completion.chunk","id":') == 4
        origin = httpx.URL(url).copy_with(path=TRACE_PATH)
        trace = http.get(origin).json()["traces"]["probe-1"]
        assert trace["first_bytes"] <= trace["arrived"] <= trace["sends"][0]
        assert len(trace["sends"]) == 5  # 3 tokens, the final chunk, [DONE]
        assert http.get(origin).json()["traces"] == {}  # taken once
