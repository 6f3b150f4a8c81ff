"""The run's conformance tally: for a vendor's README, which rules a server meets and which it
breaks, with counts. Fed by the `glm_check` fixture, printed at the end of the pytest run and
written into the --glm-report document."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .checks import CheckRun
from .profiles import GLM_ONLY, NOT_APPLIED

AnswerTally = Mapping[str, Sequence[str]]
"""One checked answer's part of the tally, as plain data: under pytest-xdist it is made in a
worker and added up in the controller (it travels on the test report)."""


def answer_of(run: CheckRun) -> dict[str, list[str]]:
    return {
        "ran": list(run.ran),
        "broke": sorted({v.check for v in run.violations}),
        "rules": sorted({f"{v.check}.{v.rule}" for v in run.violations}),
        "not_applied": sorted({f"{v.check}.{v.rule}" for v in run.not_applied}),
        "waived": sorted({v.check for v in run.not_applied}),
    }


@dataclass
class Conformance:
    profile: str
    answers: int = 0
    ran: Counter[str] = field(default_factory=Counter)  # check -> answers it judged
    broke: Counter[str] = field(default_factory=Counter)  # check -> answers that broke it
    rules: Counter[str] = field(default_factory=Counter)  # "check.rule" -> answers that broke it
    not_applied: Counter[str] = field(default_factory=Counter)  # "check.rule" -> answers
    waived: Counter[str] = field(default_factory=Counter)  # check -> answers with a not-applied rule

    def add(self, answer: AnswerTally) -> None:
        self.answers += 1
        self.ran.update(answer["ran"])
        self.broke.update(answer["broke"])
        self.rules.update(answer["rules"])
        self.not_applied.update(answer["not_applied"])
        self.waived.update(answer["waived"])

    def met(self) -> dict[str, int]:
        """Checks no answer broke, with how many answers they judged; a check whose GLM-only rule
        was not applied is not claimed as met (its line under "not applied" says why)."""
        return {check: n for check, n in sorted(self.ran.items())
                if not self.broke[check] and not self.waived[check]}

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "answers_checked": self.answers,
            "met": self.met(),
            "broken": {rule: {"answers": n, "of": self.ran[rule.partition(".")[0]]}
                       for rule, n in sorted(self.rules.items())},
            "not_applied": {rule: {"answers": n, "why": GLM_ONLY.get(rule, "")}
                            for rule, n in sorted(self.not_applied.items())},
        }

    def lines(self) -> list[str]:
        if not self.answers:
            return []
        out = [f"profile {self.profile}: {self.answers} answer(s) checked"]
        out += [f"  meets  {check}: all {n} answer(s)" for check, n in self.met().items()]
        for rule, n in sorted(self.rules.items()):
            out.append(f"  BREAKS {rule}: {n} of {self.ran[rule.partition('.')[0]]} answer(s)")
        for rule, n in sorted(self.not_applied.items()):
            out.append(f"  {NOT_APPLIED}: {rule} ({GLM_ONLY.get(rule, '')}): would break "
                       f"{n} answer(s)")
        return out
