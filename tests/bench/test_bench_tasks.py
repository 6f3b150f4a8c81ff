"""Task sets and graders: each grader passes a right answer and fails a wrong one, for real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.bench.tasks import (
    ExactGrader,
    JsonSchemaGrader,
    ToolCallGrader,
    UnitTestGrader,
    build_haystack,
    grade,
    load_task_set,
)
from harness.errors import UsageError
from harness.mock.tokens import count_tokens

DEFAULT = load_task_set("default")
TASKS = {t.id: t for t in DEFAULT.tasks}


def tool_call(name: str, arguments: str) -> dict[str, object]:
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}


# A right and a wrong answer for every task in the default set.
RIGHT = {
    "code-palindrome": {"content": "```python\nimport re\n\ndef is_palindrome(s: str) -> bool:\n"
                                   "    t = re.sub(r'[^0-9a-z]', '', s.lower())\n"
                                   "    return t == t[::-1]\n```"},
    "code-merge-intervals": {"content": "Here:\n```python\ndef merge_intervals(intervals):\n"
                                        "    out = []\n"
                                        "    for a, b in sorted(map(list, intervals)):\n"
                                        "        if out and a <= out[-1][1]:\n"
                                        "            out[-1][1] = max(out[-1][1], b)\n"
                                        "        else:\n"
                                        "            out.append([a, b])\n"
                                        "    return out\n```"},
    "reason-train-arrival": {"content": "21:47 + 3:38 = 01:25, +0:55, +1:09.\nANSWER: 03:29"},
    "reason-age-order": {"content": "Order: Mira > Sam > Tom > Lena > Ravi.\n\nANSWER: **Lena**"},
    "extract-invoice": {"content": json.dumps({
        "vendor": "Nordlicht Bürobedarf GmbH", "invoice_number": "INV-2024-0193",
        "date": "2024-03-18", "currency": "EUR", "total": 1249.50,
        "line_items": [{"description": "Ergonomic desk chair", "quantity": 3, "unit_price": 289.0},
                       {"description": "Standing desk frame", "quantity": 2, "unit_price": 191.25}]})},
    "tool-weather": {"tool_calls": [tool_call("get_weather", '{"city": "paris"}')]},
    "long-needle": {"content": "The notice says the code is 4817.\nANSWER: 4817"},
}
WRONG = {
    "code-palindrome": {"content": "```python\ndef is_palindrome(s):\n    return s == s[::-1]\n```"},
    "code-merge-intervals": {"content": "```python\ndef merge_intervals(intervals):\n"
                                        "    return intervals\n```"},
    "reason-train-arrival": {"content": "ANSWER: 03:30"},
    "reason-age-order": {"content": "ANSWER: Ravi"},
    "extract-invoice": {"content": '{"vendor": "Nordlicht", "invoice_number": "INV-2024-0193", '
                                   '"date": "18.03.2024", "currency": "EUR", "total": 1249.5, '
                                   '"line_items": []}'},
    "tool-weather": {"tool_calls": [tool_call("get_stock_price", '{"ticker": "PAR"}')]},
    "long-needle": {"content": "ANSWER: 4871"},
}


def test_default_set_covers_every_kind() -> None:
    assert {t.kind for t in DEFAULT.tasks} == {"coding", "reasoning", "extraction", "tool_use",
                                               "long_context"}
    assert sum(t.grader.type == "unit_test" for t in DEFAULT.tasks) >= 2
    assert sum(t.kind == "reasoning" for t in DEFAULT.tasks) >= 2
    assert set(RIGHT) == set(WRONG) == set(DEFAULT.ids)


@pytest.mark.parametrize("task_id", DEFAULT.ids)
def test_each_default_task_passes_a_right_answer(task_id: str) -> None:
    verdict = grade(TASKS[task_id], RIGHT[task_id])
    assert verdict.passed, verdict.detail


@pytest.mark.parametrize("task_id", DEFAULT.ids)
def test_each_default_task_fails_a_wrong_answer(task_id: str) -> None:
    verdict = grade(TASKS[task_id], WRONG[task_id])
    assert not verdict.passed
    assert verdict.detail


def test_exact_grader_forms() -> None:
    grader = ExactGrader(answer="42", accept=["forty-two"])
    task = TASKS["reason-age-order"].model_copy(update={"grader": grader})
    assert grade(task, {"content": "so...\n42."}).passed  # last line, trailing period
    assert grade(task, {"content": "answer: Forty-Two"}).passed
    assert not grade(task, {"content": "ANSWER: 42\nANSWER: 43"}).passed  # the last marker counts
    assert not grade(task, {"content": ""}).passed


def test_json_grader_reports_why() -> None:
    grader = JsonSchemaGrader(json_schema={"type": "object", "required": ["a"],
                                           "properties": {"a": {"type": "integer"}}},
                              expected={"a": 2})
    task = TASKS["extract-invoice"].model_copy(update={"grader": grader})
    assert grade(task, {"content": '```json\n{"a": 2}\n```'}).passed
    assert "schema" in grade(task, {"content": '{"a": "2"}'}).detail
    assert "expected" in grade(task, {"content": '{"a": 3}'}).detail
    assert "no JSON" in grade(task, {"content": "none here"}).detail


def test_unit_test_grader_runs_code_in_a_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAI_API_KEY", "not-a-real-key")
    grader = UnitTestGrader(entrypoint="f", test="assert f(2) == 4\n", timeout_s=2)
    task = TASKS["code-palindrome"].model_copy(update={"grader": grader})
    assert grade(task, {"content": "```python\ndef f(x):\n    return x * 2\n```"}).passed
    failed = grade(task, {"content": "```python\ndef f(x):\n    return x + 3\n```"})
    assert not failed.passed and "AssertionError" in failed.detail
    # a short limit for the loop alone: it spins until killed
    quick = task.model_copy(update={"grader": grader.model_copy(update={"timeout_s": 0.3})})
    looping = grade(quick, {"content": "```python\ndef f(x):\n    while True:\n        pass\n```"})
    assert not looping.passed and "timed out" in looping.detail
    assert "no definition" in grade(task, {"content": "def g(): pass"}).detail
    # the reply cannot read this process's environment: the child gets PATH only
    sneaky = "```python\nimport os\ndef f(x):\n    assert 'ZAI_API_KEY' not in os.environ\n    return 4\n```"
    assert grade(task, {"content": sneaky}).passed


def test_tool_call_grader() -> None:
    grader = ToolCallGrader(name="get_weather", arguments={"city": "Paris"}, match="exact")
    task = TASKS["tool-weather"].model_copy(update={"grader": grader})
    assert grade(task, {"tool_calls": [tool_call("get_weather", '{"city":"Paris"}')]}).passed
    assert not grade(task, {"tool_calls": [tool_call("get_weather", '{"city":"Paris","x":1}')]}).passed
    assert "not JSON" in grade(task, {"tool_calls": [tool_call("get_weather", "{city")]}).detail
    assert "no tool call" in grade(task, {"content": "It is sunny."}).detail


def test_haystack_is_deterministic_and_long_enough() -> None:
    task = TASKS["long-needle"]
    assert task.haystack is not None
    text = build_haystack(task.haystack)
    assert text == build_haystack(task.haystack)
    assert task.haystack.needle in text
    assert 2000 <= count_tokens(task.messages()[-1]["content"]) <= 6000  # "a few thousand"


def test_task_bodies() -> None:
    body = TASKS["tool-weather"].body(thinking=False)
    assert body["thinking"] == {"type": "disabled"} and body["stream"] is True
    assert body["tool_choice"] == "auto" and len(body["tools"]) == 2
    assert TASKS["extract-invoice"].body(True)["response_format"] == {"type": "json_object"}


def test_bad_task_sets_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no task set 'nosuch'.*known: .*default"):
        load_task_set("nosuch")
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "broken", "tasks": [{"id": "a", "kind": "nope"}]}')
    with pytest.raises(UsageError, match="invalid"):
        load_task_set(str(broken))
    twice = tmp_path / "twice.json"
    task = {"id": "a", "kind": "reasoning", "prompt": "p", "grader": {"type": "exact", "answer": "1"}}
    twice.write_text(json.dumps({"name": "twice", "tasks": [task, task]}))
    with pytest.raises(UsageError, match="repeats"):
        load_task_set(str(twice))
