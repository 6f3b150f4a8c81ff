"""Claude Code as a real client, offline: the `claude` binary runs its tool loop through
`glm-harness proxy` to the served twin, on the Anthropic surface.

The prompt carries a `TWIN-CALL Read {...}` directive, so the twin answers the first turn with a
`tool_use` of Claude Code's own Read tool; Claude Code reads the file and sends the `tool_result`
back, and the twin's final answer (`TWIN-RESULT: ...`) quotes it. The proxy's report lists every
exchange, each judged by the Messages surface's named checks, with no violation and with tokens.

The binary is `$GLM_HARNESS_CLAUDE`, else `claude` on PATH (`npm install @anthropic-ai/claude-code`,
as .ci/run does); without it the test is skipped. The real requests it sends are validated
against the contract below, from fixtures/agents/ (no binary needed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from harness.contract import Mode
from harness.contract.messages import MessagesRequest
from harness.contract.validation import validate
from harness.mock import TWIN_KEY
from harness.mock.scenarios import TWIN_RESULT
from harness.mock.server import running_twin
from harness.proxy import running_proxy
from harness.transcript import load

AGENTS = Path(__file__).resolve().parents[1] / "fixtures" / "agents"
CLAUDE_ENV = "GLM_HARNESS_CLAUDE"


def claude_binary() -> str | None:
    found = os.environ.get(CLAUDE_ENV) or shutil.which("claude")
    return found if found and os.access(found, os.X_OK) else None


def rows(report: Path, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        found: list[dict[str, Any]] = json.loads(report.read_text())["exchanges"]
        if len([r for r in found if r["surface"] == "anthropic"]) >= n or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


@pytest.mark.claude_code
def test_claude_code_reads_a_file_through_the_proxy_to_the_twin(tmp_path: Path) -> None:
    claude = claude_binary()
    if claude is None:
        pytest.skip(f"no Claude Code binary (${CLAUDE_ENV} or `claude` on PATH; "
                    "npm install @anthropic-ai/claude-code)")
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir()
    home.mkdir()
    notes = project / "notes.txt"
    notes.write_text("The launch code is 0451.\n")
    report, record = tmp_path / "proxy.json", tmp_path / "transcripts"
    with running_twin() as twin, running_proxy(f"http://127.0.0.1:{twin.port}", report, record) as proxy:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home),
               "ANTHROPIC_BASE_URL": f"{proxy.base_url}/api/anthropic", "ANTHROPIC_AUTH_TOKEN": TWIN_KEY,
               "ANTHROPIC_MODEL": "glm-4.6", "ANTHROPIC_SMALL_FAST_MODEL": "glm-4.5-air",
               "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"}
        prompt = f'What do my notes say? TWIN-CALL Read {{"file_path": "{notes}"}}'
        run = subprocess.run([claude, "-p", prompt, "--output-format", "json"], cwd=project, env=env,
                             capture_output=True, text=True, timeout=180)
        exchanges = rows(report, 2)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout)
    assert result["is_error"] is False and result["num_turns"] == 2
    assert result["result"].startswith(TWIN_RESULT)
    assert "The launch code is 0451." in result["result"]  # the file, read by Claude Code's Read tool

    messages = [e for e in exchanges if e["surface"] == "anthropic"]
    assert len(messages) == 2
    for row in messages:
        assert (row["path"], row["status"], row["checked"], row["violations"]) == (
            "/api/anthropic/v1/messages", 200, True, []), row
        assert row["usage"]["input_tokens"] > 10_000  # Claude Code's system prompt and tools
        assert row["usage"]["output_tokens"] > 0
        assert row["timings"]["ttft_ms"] is not None
    assert messages[1]["usage"]["cached_tokens"] > 0  # its cached prefix, as the twin caches it
    sent = [load(record / row["transcript"]) for row in messages]
    assert all(t.request.url.endswith("/v1/messages?beta=true") for t in sent)
    assert all(validate(MessagesRequest, t.request.json_body, Mode.STRICT).ok for t in sent)


@pytest.mark.parametrize("name", ["claude-code-2.1.197-read-request.json",
                                  "claude-code-2.1.197-tool-result-request.json"])
def test_recorded_claude_code_requests_meet_the_messages_contract(name: str) -> None:
    transcript = load(AGENTS / name)
    body = transcript.request.json_body
    assert body is not None
    checked = validate(MessagesRequest, body, Mode.STRICT)
    assert checked.ok, checked.findings
    assert transcript.request.headers["authorization"] == "Bearer <scrubbed>"
    assert body["metadata"]["user_id"] == "<scrubbed>"
    assert len(body["tools"]) > 10 and transcript.request.headers["user-agent"].startswith("claude-cli/")
