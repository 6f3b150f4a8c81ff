"""Errors: status, body shape and business code for each class of bad request, and whether a
client may retry. Codes and messages are the recorded ones (shared/real-traffic/errors)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.contract import is_retryable
from harness.mock import EMPTY_BALANCE_KEY, EXPIRED_KEY, Limits
from harness.surface import Surface

from ._requests import ONLY_OPENAI

UNKNOWN_KEY = "00000000000000000000000000000000.glmHarnessNoSuchKey"


BAD_REQUESTS = {
    "unknown-model": ({"model": "glm-nonexistent"}, "1211"),
    "empty-messages": ({"messages": []}, "1214"),
    "bad-role": ({"messages": [{"role": "developer", "content": "hi"}]}, "1214"),
    "only-system": ({"messages": [{"role": "system", "content": "You are terse."}]}, "1214"),
    "blank-user": ({"messages": [{"role": "user", "content": ""}]}, "1213"),
    "temperature-above-1": ({"temperature": 1.5}, "1210"),
    "temperature-3-decimals": ({"temperature": 0.123}, "1210"),
    "top_p-zero": ({"top_p": 0.0}, "1210"),
    "max_tokens-zero": ({"max_tokens": 0}, "1210"),
    "tool_choice-required": ({"tool_choice": "required"}, "1210"),
}


# Requests GLM refuses that OpenAI's API takes: GLM's own ranges, not a rule every
# OpenAI-compatible server keeps, so the openai-compatible profile does not ask for the refusal.
GLM_ONLY_REFUSALS = {
    "bad-role": "OpenAI takes the developer role",
    "only-system": "OpenAI answers a conversation of only a system message",
    "blank-user": "OpenAI takes empty content",
    "temperature-above-1": "OpenAI's temperature range is [0, 2]",
    "temperature-3-decimals": "OpenAI takes any temperature in its range",
    "tool_choice-required": "OpenAI takes tool_choice 'required'",
}


@ONLY_OPENAI  # the Messages surface's bad requests: test_messages.py
@pytest.mark.parametrize(("case", "override", "code"), [(k, *v) for k, v in BAD_REQUESTS.items()],
                         ids=BAD_REQUESTS)
def test_bad_request_is_400_with_its_code(glm_client, glm_check, glm_target, case, override, code,
                                          cheap) -> None:
    if glm_target.profile != "glm" and case in GLM_ONLY_REFUSALS:
        pytest.skip(f"GLM-only, not applied: GLM refuses it, {GLM_ONLY_REFUSALS[case]}")
    glm_check(glm_client.send({**cheap("Say hi"), **override}), status=400, code=code)


@ONLY_OPENAI  # the range's wording on the Messages surface is not recorded
def test_max_tokens_above_the_model_card_is_1210(glm_client, glm_check, known_card, cheap) -> None:
    card = known_card
    exchange = glm_client.send(cheap("Say hi") | {"max_tokens": card.max_output_tokens + 1})
    glm_check(exchange, status=400, code="1210", message_contains=f"[1,{card.max_output_tokens}]")


def test_malformed_json_is_400(glm_client, glm_check) -> None:
    glm_check(glm_client.send(b'{"model": "glm-4.6", "messages": [}'), status=400, code="1210")


@pytest.mark.glm_live_cost
def test_prompt_over_the_context_window_is_1261(glm_client, glm_check, known_card, cheap) -> None:
    filler = "lorem ipsum " * (known_card.context_window // 2 + 1000)
    glm_check(glm_client.send(cheap(filler)), status=400, code="1261")


@pytest.mark.parametrize(("key", "codes"), [
    (None, ("1001",)),
    ("not-a-key", ("1002", "1000")),
    (UNKNOWN_KEY, ("1000", "1002")),
], ids=["missing", "malformed", "unknown"])
def test_bad_key_is_401(glm_client_with_key, glm_check, glm_target, key, codes, cheap) -> None:
    glm_check(glm_client_with_key(key).send(cheap("Say hi")), status=401, code=_code_401(glm_target, codes))


def _code_401(target, codes):  # type: ignore[no-untyped-def]
    """The Messages surface's recorded 401 carries no business code, whatever the key's fault."""
    return None if target.surface is Surface.ANTHROPIC else codes


def test_unknown_path_is_404(glm_client, glm_check, cheap) -> None:
    # The real 404 body is undocumented; only the status and transport are part of the contract.
    glm_check(glm_client.send(cheap("Say hi"), path="/chat/completion"), status=404,
              checks=("transport_completed", "status_code_conformance"))


@pytest.mark.glm_mock_only
def test_expired_key_is_401_1003(glm_client_with_key, glm_check, glm_target, cheap) -> None:
    glm_check(glm_client_with_key(EXPIRED_KEY).send(cheap("Say hi")), status=401,
              code=_code_401(glm_target, "1003"))


@pytest.mark.glm_mock_only
def test_empty_balance_is_429_1113_and_never_retryable(glm_client_with_key, glm_check, cheap) -> None:
    exchange = glm_client_with_key(EMPTY_BALANCE_KEY).send(cheap("Say hi"))
    glm_check(exchange, status=429, code="1113")
    if is_retryable(429, "1113"):
        pytest.fail("the catalogue calls 1113 (empty balance) retryable; a retry can never succeed")


@pytest.mark.glm_mock_only
def test_rate_limit_is_429_1302_and_retryable(glm_client, glm_check, glm_mock, cheap) -> None:
    glm_mock.reconfigure(limits=Limits(requests=1, per_seconds=60))
    glm_check(glm_client.send(cheap("Say hi")))
    glm_check(glm_client.send(cheap("Say hi")), status=429, code="1302")
    if not is_retryable(429, "1302"):
        pytest.fail("the catalogue calls 1302 (rate limit) not retryable; clients should back off and retry")


@pytest.mark.glm_mock_only
def test_concurrency_limit_is_429_1302(glm_client, glm_check, glm_mock, cheap) -> None:
    glm_mock.reconfigure(limits=Limits(max_concurrency=1))
    held = glm_client.iter_events(cheap("Say hi", stream=True))
    next(held)  # the first event is in: the stream holds its slot
    try:
        glm_check(glm_client.send(cheap("Say hi")), status=429, code="1302")
    finally:
        held.close()
    glm_check(glm_client.send(cheap("Say hi")))


def test_rate_limit_shape_when_met(glm_client, glm_check, cheap) -> None:
    """On a live target a 429 is checked when one turns up; on the twin there is none to meet."""
    with ThreadPoolExecutor(4) as pool:
        exchanges = list(pool.map(glm_client.send, [cheap("Say hi", max_tokens=1)] * 4))
    limited = [e for e in exchanges if e.status == 429]
    if not limited:
        pytest.skip("no 429 met in a burst of 4 requests")
    for exchange in limited:
        glm_check(exchange, status=429, code=("1302", "1303", "1305", "1113", "1308", "1310"))
