"""Thinking on and off: reasoning_content appears when enabled and only then."""

from __future__ import annotations

import pytest

from ._requests import ONLY_OPENAI, THINKING_ROOM, ask

pytestmark = ONLY_OPENAI  # the Messages surface's thinking blocks: test_messages.py


def test_thinking_enabled_returns_reasoning(glm_client, glm_check) -> None:
    exchange = glm_client.send(ask("What is 17 * 23? Think it through.",
                                   thinking={"type": "enabled"}, max_tokens=THINKING_ROOM))
    glm_check(exchange, reasoning=True)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_thinking_disabled_returns_no_reasoning(glm_client, glm_check, card, stream) -> None:
    if not card.accepts_thinking_disabled():
        pytest.skip(f"{card.name} always thinks")
    # thinking_conformance fails the exchange if reasoning_content comes back
    glm_check(glm_client.send(ask("Say hi", thinking={"type": "disabled"}, max_tokens=32, stream=stream)))


def test_always_thinking_model_refuses_thinking_disabled(glm_client, glm_check, known_card) -> None:
    # known_card: a model without a card skips saying so, not claiming how it thinks
    if known_card.accepts_thinking_disabled():
        pytest.skip(f"{known_card.name} lets thinking be turned off")
    glm_check(glm_client.send(ask("Say hi", thinking={"type": "disabled"})), status=400, code="1210")
