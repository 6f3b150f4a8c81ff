"""Model cards: what each GLM model version accepts, so ranges are checked per model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ThinkingSupport = Literal["hybrid", "always", "none"]

K = 1024


@dataclass(frozen=True, slots=True)
class ModelCard:
    name: str
    context_window: int
    max_output_tokens: int
    thinking: ThinkingSupport
    default_temperature: float = 1.0
    default_top_p: float = 0.95
    vision: bool = False

    @property
    def max_tokens_range(self) -> tuple[int, int]:
        return 1, self.max_output_tokens

    def accepts_thinking_disabled(self) -> bool:
        return self.thinking == "hybrid"


# Sources: docs.z.ai chat-completion reference and model pages; the max_tokens caps [1,131072]
# (glm-4.6/4.7/5), [1,98304] (glm-4.5 family) and [1,32768] (glm-4.6v) were seen in real 1210
# error messages. glm-4.5v and glm-5 refuse `thinking: disabled` (recorded 1210).
MODEL_CARDS: dict[str, ModelCard] = {
    card.name: card
    for card in (
        ModelCard("glm-4.5", 128 * K, 96 * K, "hybrid", default_temperature=0.6),
        ModelCard("glm-4.5-air", 128 * K, 96 * K, "hybrid", default_temperature=0.6),
        ModelCard("glm-4.5-x", 128 * K, 96 * K, "hybrid", default_temperature=0.6),
        ModelCard("glm-4.5-airx", 128 * K, 96 * K, "hybrid", default_temperature=0.6),
        ModelCard("glm-4.5-flash", 128 * K, 96 * K, "hybrid", default_temperature=0.6),
        ModelCard("glm-4.5v", 64 * K, 16 * K, "always", default_temperature=0.6, vision=True),
        ModelCard("glm-4.6", 200 * K, 128 * K, "hybrid"),
        ModelCard("glm-4.6v", 128 * K, 32 * K, "hybrid", vision=True),
        ModelCard("glm-4.7", 200 * K, 128 * K, "hybrid"),
        ModelCard("glm-4.7-flash", 200 * K, 128 * K, "hybrid"),
        ModelCard("glm-5", 200 * K, 128 * K, "always"),
    )
}

DEFAULT_MODEL = "glm-4.6"


def model_card(name: str) -> ModelCard | None:
    return MODEL_CARDS.get(name)


def card_or_generic(name: str) -> tuple[ModelCard, bool]:
    """The model's card, or a generic one (`known=False`) for a model the harness has no card
    for: another OpenAI-compatible server's model, or a GLM released after this version.
    Checks that depend on the card's limits skip on a generic card rather than guess."""
    card = MODEL_CARDS.get(name)
    if card is not None:
        return card, True
    return ModelCard(name, context_window=128 * K, max_output_tokens=4 * K, thinking="hybrid"), False
