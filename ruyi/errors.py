"""One error base for the domain core, with messages in Chinese and English."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input: where (a field path such as ``versions[0].tiers[1].subsidy``),
    a machine code, and the message in both languages."""

    path: str
    code: str
    zh: str
    en: str

    def message(self, lang: str = "zh") -> str:
        text = self.en if lang == "en" else self.zh
        return f"{self.path}: {text}" if self.path else text


class RuyiError(Exception):
    """Base of every error the domain core raises on bad input. Carries at least one problem."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("RuyiError needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("; ".join(p.message("en") for p in self.problems))

    @property
    def code(self) -> str:
        return self.problems[0].code

    @classmethod
    def one(cls, code: str, zh: str, en: str, *, path: str = "") -> Self:
        return cls([Problem(path=path, code=code, zh=zh, en=en)])


class InvalidMoney(RuyiError):
    """An amount of money that cannot be read exactly."""


class InvalidResidentId(RuyiError):
    """A resident ID number that is not a valid 18-character 居民身份证号码."""


class InvalidRuleSet(RuyiError):
    """A rule set (or a set of versions) that the engine refuses."""
