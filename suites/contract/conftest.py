"""Fixtures shared by the contract suites."""

from __future__ import annotations

from typing import Any

import pytest

from harness.contract import ModelCard, card_or_generic
from harness.surface import Surface
from harness.targets import Target

from ._requests import ROOMY, ask, quiet, say


@pytest.fixture(scope="session")
def card(glm_target: Target) -> ModelCard:
    return card_or_generic(glm_target.model)[0]


@pytest.fixture(scope="session")
def known_card(glm_target: Target) -> ModelCard:
    """The model's own card; tests of card limits skip on a model the harness does not know."""
    found, known = card_or_generic(glm_target.model)
    if not known:
        pytest.skip(f"no model card for {glm_target.model!r}: its limits are unknown")
    return found


@pytest.fixture
def cheap(card: ModelCard, glm_target: Target):  # type: ignore[no-untyped-def]
    """`cheap(text, **params)`: `quiet()` where thinking can be turned off, else a short ask; on
    the Anthropic surface `say()` (GLM thinks there only when asked)."""
    def build(text: str, **params: Any) -> dict[str, Any]:
        if glm_target.surface is Surface.ANTHROPIC:
            return say(text, **params)
        if card.accepts_thinking_disabled():
            return quiet(text, **params)
        return ask(text, **{"max_tokens": ROOMY, **params})
    return build
