"""Model cards: what each GLM model version accepts and sends, so checks are made per model.

Each card carries its sources: which facts come from the docs, which from recorded traffic (with
the date), and which are assumed because nothing better is known yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ThinkingSupport = Literal["hybrid", "always", "none"]

K = 1024

# Where the facts come from, named once.
DOCS = "docs.z.ai model pages and chat-completion reference"
BIGMODEL_DOCS = "docs.bigmodel.cn model pages"
RANGE_1210 = "the max_tokens range named in a recorded 1210 message"
REC_2025 = "shared/real-traffic recordings (2025-09..2025-11)"
REC_2026 = "2026 recordings (shared/glm-api.md, 'What changed in 2026')"
ASSUMED = "assumed from the family's earlier model; not yet confirmed"


@dataclass(frozen=True, slots=True)
class ModelCard:
    name: str
    context_window: int
    max_output_tokens: int
    thinking: ThinkingSupport
    default_temperature: float = 1.0
    default_top_p: float = 0.95
    vision: bool = False
    tools: bool = True
    # What its answers carry: usage.prompt_tokens_details, usage.completion_tokens_details.
    reports_cached_tokens: bool = True
    reports_reasoning_tokens: bool = False
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def max_tokens_range(self) -> tuple[int, int]:
        return 1, self.max_output_tokens

    def accepts_thinking_disabled(self) -> bool:
        return self.thinking == "hybrid"


def _card(name: str, context: int, output: int, thinking: ThinkingSupport, sources: dict[str, str],
          **facts: object) -> ModelCard:
    return ModelCard(name, context, output, thinking, sources=sources, **facts)  # type: ignore[arg-type]


_GLM45 = {"limits": DOCS, "max_tokens": RANGE_1210 + " ([1,98304], open.bigmodel.cn 2026-10-09)",
          "thinking": DOCS, "usage": REC_2025}
_GLM46 = {"limits": DOCS, "max_tokens": DOCS + " (128K output)", "thinking": DOCS, "usage": REC_2025}
_GLM47 = {"limits": DOCS, "max_tokens": RANGE_1210 + " ([1,131072], glm-4.7-flash 2026-10-09)",
          "thinking": DOCS, "usage": REC_2026 + ": completion_tokens_details.reasoning_tokens"}
_GLM5 = {"limits": DOCS + " (200K context, 128K output)",
         "thinking": REC_2026 + ": glm-5 accepted thinking disabled (200)",
         "usage": REC_2026 + ": completion_tokens_details.reasoning_tokens"}
_GLM51 = {"limits": ASSUMED + " (glm-5)", "thinking": ASSUMED + " (glm-5)",
          "usage": REC_2026 + ": completion_tokens_details.reasoning_tokens"}
_GLM5_TURBO = {"limits": ASSUMED + " (glm-5)", "thinking": ASSUMED + " (glm-5)",
               "usage": "2026-05-07 recordings (shared/real-traffic-2026): completion_tokens_details."
                        "reasoning_tokens and prompt_tokens_details on every answer"}
_GLM52 = {"limits": ASSUMED + " (glm-5)", "thinking": ASSUMED + " (glm-5)",
          "usage": "a 2026-09-13 glm-5.2 body: completion_tokens_details and prompt_tokens_details"}
_GLM46V = {"limits": DOCS, "max_tokens": RANGE_1210 + " ([1,32768])", "thinking": DOCS,
           "usage": ASSUMED + " (glm-4.6)"}
_SMALL = {"limits": BIGMODEL_DOCS + " (128K context, 16K output)", "thinking": BIGMODEL_DOCS,
          "usage": REC_2026 + ": no prompt_tokens_details"}

MODEL_CARDS: dict[str, ModelCard] = {
    card.name: card
    for card in (
        *(_card(name, 128 * K, 96 * K, "hybrid", _GLM45, default_temperature=0.6)
          for name in ("glm-4.5", "glm-4.5-air", "glm-4.5-x", "glm-4.5-airx", "glm-4.5-flash")),
        # glm-4.5v refuses `thinking: disabled` (recorded 1210).
        _card("glm-4.5v", 64 * K, 16 * K, "always", _GLM46V | {"thinking": "recorded 1210"},
              default_temperature=0.6, vision=True),
        _card("glm-4.6", 200 * K, 128 * K, "hybrid", _GLM46),
        *(_card(name, 128 * K, 32 * K, "hybrid", _GLM46V, vision=True)
          for name in ("glm-4.6v", "glm-4.6v-flash", "glm-4.6v-flashx")),
        *(_card(name, 200 * K, 128 * K, "hybrid", _GLM47, reports_reasoning_tokens=True)
          for name in ("glm-4.7", "glm-4.7-flash", "glm-4.7-flashx")),
        _card("glm-5", 200 * K, 128 * K, "hybrid", _GLM5, reports_reasoning_tokens=True),
        _card("glm-5.1", 200 * K, 128 * K, "hybrid", _GLM51, reports_reasoning_tokens=True),
        _card("glm-5-turbo", 200 * K, 128 * K, "hybrid", _GLM5_TURBO, reports_reasoning_tokens=True),
        _card("glm-5.2", 200 * K, 128 * K, "hybrid", _GLM52, reports_reasoning_tokens=True),
        _card("glm-4-flash-250414", 128 * K, 16 * K, "none", _SMALL, reports_cached_tokens=False),
        _card("glm-4.1v-thinking-flash", 64 * K, 16 * K, "always", _SMALL | {"limits": ASSUMED},
              vision=True, tools=False, reports_cached_tokens=False),
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
