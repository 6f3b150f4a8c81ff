"""An agent's tool loop on the OpenAI surface, with the official `openai` SDK as the client, through
`glm-harness proxy` to the served twin: the twin is told which tool to call (TWIN-CALL), the loop
runs the tool for real (it reads a file), sends the result back as a `tool` message, and the
twin's final answer quotes it (TWIN-RESULT). The proxy's report lists every exchange, conforming
and with tokens. The convention itself is tested at the plan level below, where both surfaces'
renderings get it from.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from harness.contract import ChatCompletionRequest
from harness.mock import TWIN_KEY
from harness.mock.scenarios import TWIN_RESULT, directed_turn, twin_calls
from harness.mock.server import running_twin
from harness.proxy import RunningProxy, running_proxy

READ_FILE: Any = {"type": "function", "function": {
    "name": "read_file", "description": "Read a text file of the project",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}}
WRITE_FILE: Any = {"type": "function", "function": {
    "name": "write_file", "description": "Write a text file of the project",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}, "text": {"type": "string"}},
                   "required": ["path", "text"]}}}


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    with running_twin() as twin, running_proxy(f"http://127.0.0.1:{twin.port}", tmp_path / "proxy.json") as p:
        yield p


def run_tool(project: Path, name: str, arguments: dict[str, Any]) -> str:
    """The agent's tools, for real, inside the project folder."""
    target = project / arguments["path"]
    if name == "read_file":
        return target.read_text()
    target.write_text(arguments["text"])
    return f"wrote {len(arguments['text'])} characters to {arguments['path']}"


def agent_loop(client: openai.OpenAI, project: Path, prompt: str, stream: bool) -> tuple[str, int]:
    """A minimal agent: call the model, run the tools it asks for, send the results, until it
    answers in text. Returns the final answer and the number of model calls."""
    messages: list[Any] = [{"role": "user", "content": prompt}]
    for turn in range(1, 10):
        if stream:
            text, calls = _streamed_turn(client, messages)
        else:
            answer = client.chat.completions.create(model="glm-4.6", messages=messages,
                                                    tools=[READ_FILE, WRITE_FILE])
            message = answer.choices[0].message
            text = message.content or ""
            calls = [{"id": c.id, "type": "function",
                      "function": {"name": c.function.name, "arguments": c.function.arguments}}
                     for c in message.tool_calls or () if c.type == "function"]
        if not calls:
            return text, turn
        messages.append({"role": "assistant", "content": text, "tool_calls": calls})
        for call in calls:
            result = run_tool(project, call["function"]["name"], json.loads(call["function"]["arguments"]))
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
    raise AssertionError("the agent never finished")


def _streamed_turn(client: openai.OpenAI, messages: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    text, calls = "", {}
    stream = client.chat.completions.create(model="glm-4.6", messages=messages, stream=True,
                                            tools=[READ_FILE, WRITE_FILE])
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for fragment in delta.tool_calls or ():
            call = calls.setdefault(fragment.index, {"id": "", "type": "function",
                                                     "function": {"name": "", "arguments": ""}})
            call["id"] = fragment.id or call["id"]
            if fragment.function is not None:
                call["function"]["name"] += fragment.function.name or ""
                call["function"]["arguments"] += fragment.function.arguments or ""
    return text, [calls[i] for i in sorted(calls)]


def rows(report: Path, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        found: list[dict[str, Any]] = json.loads(report.read_text())["exchanges"]
        if len(found) >= n or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_openai_sdk_agent_reads_a_file_through_the_proxy(proxy: RunningProxy, tmp_path: Path,
                                                          stream: bool) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("The launch code is 0451.")
    client = openai.OpenAI(base_url=proxy.base_url + "/api/paas/v4", api_key=TWIN_KEY, max_retries=0)
    answer, turns = agent_loop(client, project, 'What do my notes say? TWIN-CALL read_file {"path": "notes.txt"}',
                               stream)
    assert turns == 2
    assert answer == f"{TWIN_RESULT} The launch code is 0451."
    assert proxy.report.out is not None
    exchanges = rows(proxy.report.out, 2)
    assert [(e["status"], e["checked"], e["violations"], e["stream"]) for e in exchanges] == [
        (200, True, [], stream)] * 2
    assert all(e["usage"]["input_tokens"] > 0 and e["usage"]["output_tokens"] > 0 for e in exchanges)
    # the second request carries the whole conversation: more input than the first
    assert exchanges[1]["usage"]["input_tokens"] > exchanges[0]["usage"]["input_tokens"]


def test_directives_are_followed_in_order_one_per_turn(proxy: RunningProxy, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "a.txt").write_text("alpha")
    client = openai.OpenAI(base_url=proxy.base_url + "/api/paas/v4", api_key=TWIN_KEY, max_retries=0)
    prompt = ('Copy a.txt to b.txt. TWIN-CALL read_file {"path": "a.txt"} then '
              'TWIN-CALL write_file {"path": "b.txt", "text": "alpha"}')
    answer, turns = agent_loop(client, project, prompt, stream=False)
    assert (project / "b.txt").read_text() == "alpha"
    assert (turns, answer) == (3, f"{TWIN_RESULT} wrote 5 characters to b.txt")


# -- the convention, at the plan level ----------------------------------------------------------------
def turn_for(messages: list[dict[str, Any]], tools: list[Any] | None = None) -> Any:
    request = ChatCompletionRequest.model_validate({"model": "glm-4.6", "messages": messages,
                                                    **({"tools": tools} if tools else {})})
    return directed_turn(request, random.Random(0))


def test_a_directive_names_a_tool_the_request_offers() -> None:
    asked = [{"role": "user", "content": 'TWIN-CALL write_file {"path": "x", "text": "y"}'}]
    assert turn_for(asked, [READ_FILE]) is None  # not offered: the twin answers as it otherwise would
    assert turn_for(asked) is None
    [call] = turn_for(asked, [READ_FILE, WRITE_FILE]).calls
    assert (call.function.name, json.loads(call.function.arguments)) == ("write_file", {"path": "x", "text": "y"})


def test_a_malformed_directive_is_skipped() -> None:
    assert twin_calls('TWIN-CALL read_file {"path": } TWIN-CALL read_file ["a"] '
                      'TWIN-CALL read_file {"path": "ok", "n": [1, {"deep": "}"}]}') == [
        ("read_file", {"path": "ok", "n": [1, {"deep": "}"}]})]


def test_a_directive_in_a_json_encoded_prompt_is_read() -> None:
    """opencode sends the prompt on JSON-encoded, quotes escaped (recorded through the proxy)."""
    assert twin_calls('"Read my notes. TWIN-CALL read {\\"filePath\\": \\"/p/notes.txt\\"}"') == [
        ("read", {"filePath": "/p/notes.txt"})]


def test_a_tool_result_gets_twin_result_with_the_start_of_its_text() -> None:
    long = "x" * 1000
    messages = [{"role": "user", "content": "go"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "first line\n" + long}]
    turn = turn_for(messages, [READ_FILE])
    assert turn.calls == []
    assert turn.text.startswith(f"{TWIN_RESULT} first line\nxxx")
    assert len(turn.text) < 500  # the start of the result, not all of it
    assert turn_for(messages[:1], [READ_FILE]) is None  # no directive, no result: the usual answer


# -- the Anthropic surface: the same loop with the `anthropic` SDK (what Claude Code speaks) ----------
READ_TOOL: Any = {"name": "Read", "description": "Read a file",
                  "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}},
                                   "required": ["file_path"]}}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_anthropic_sdk_agent_reads_a_file_through_the_proxy(proxy: RunningProxy, tmp_path: Path,
                                                             stream: bool) -> None:
    import anthropic

    notes = tmp_path / "notes.txt"
    notes.write_text("The launch code is 0451.")
    client = anthropic.Anthropic(base_url=proxy.base_url + "/api/anthropic", api_key=TWIN_KEY, max_retries=0)
    messages: list[Any] = [{"role": "user", "content": [
        {"type": "text", "text": "<system-reminder>Be brief.</system-reminder>"},
        {"type": "text", "text": f'Read my notes. TWIN-CALL Read {{"file_path": "{notes}"}}'}]}]
    for _ in range(5):
        if stream:
            with client.messages.stream(model="glm-4.6", max_tokens=1024, messages=messages,
                                        tools=[READ_TOOL]) as events:
                answer = events.get_final_message()
        else:
            answer = client.messages.create(model="glm-4.6", max_tokens=1024, messages=messages, tools=[READ_TOOL])
        uses = [b for b in answer.content if b.type == "tool_use"]
        if not uses:
            break
        messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in answer.content]},
                     {"role": "user", "content": [
                         {"type": "tool_result", "tool_use_id": u.id,
                          "content": Path(u.input["file_path"]).read_text()} for u in uses]}]
    text = "".join(b.text for b in answer.content if b.type == "text")
    assert text == f"{TWIN_RESULT} The launch code is 0451."
    assert proxy.report.out is not None
    exchanges = rows(proxy.report.out, 2)
    assert [(e["path"], e["surface"], e["status"], e["checked"], e["violations"], e["stream"])
            for e in exchanges] == [("/api/anthropic/v1/messages", "anthropic", 200, True, [], stream)] * 2
    assert all(e["usage"]["input_tokens"] > 0 and e["usage"]["output_tokens"] > 0 for e in exchanges)
