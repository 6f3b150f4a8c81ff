"""Fixtures shared by the contract suites."""

from __future__ import annotations

from typing import Any

import pytest

from harness.contract import ModelCard, model_card
from harness.targets import Target

from ._requests import ROOMY, ask, quiet


@pytest.fixture(scope="session")
def card(glm_target: Target) -> ModelCard:
    found = model_card(glm_target.model)
    assert found is not None  # glm_target skips models without a card
    return found


@pytest.fixture
def cheap(card: ModelCard):  # type: ignore[no-untyped-def]
    """`cheap(text, **params)`: `quiet()` where thinking can be turned off, else a short ask."""
    def build(text: str, **params: Any) -> dict[str, Any]:
        if card.accepts_thinking_disabled():
            return quiet(text, **params)
        return ask(text, **{"max_tokens": ROOMY, **params})
    return build
