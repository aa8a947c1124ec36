"""Eligibility as of now: every subsidised meal of a month is priced again by the one pricing function
(:func:`ruyi.pricing.quote`) under the rule version that priced it, for the elder as the registry stands when the
month is settled (status history, categories, card revocations, each with its effective date). A meal whose
subsidy the present registry no longer supports (the subsidy quoted now is lower than the one paid) is
``eligibility_changed``: held until a reviewer decides, or, for a closed month, reversed in the next open month.

A meal intake already holds as ``quote_mismatch`` (the counter granted more than the rules give) is not
reported again unless a recorded registry fact explains the lower subsidy.

Only eligibility is asked about here: the meal is quoted without the elder's other meals of the day, so daily and
slot limits (which have their own flag and check) never count as a change of the registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from ruyi.eligibility import ElderProfile, EnrolmentStatus
from ruyi.money import Fen
from ruyi.pricing import MealRequest, quote
from ruyi.reasons import Reason
from ruyi.rules import RuleBook, RuleVersion
from ruyi.settlement.model import MealFact

QUOTE_MISMATCH = "quote_mismatch"
"""Intake's flag for a subsidy the rules did not give (:data:`ruyi.flags.FLAG_TEXT`)."""
ELIGIBILITY_CHANGED = "eligibility_changed"
"""The held meals' flag and the check code (texts: :data:`ruyi.flags.FLAG_TEXT`)."""

FactKind = Literal["status", "category_end", "card_revoked"]


@dataclass(frozen=True, slots=True)
class RegistryFact:
    """A registry entry that can take a subsidy away, as recorded: a status change (``code``: suspended,
    cancelled, deceased), the end of a category (``code``: the category; ``effective``: its last day) or a card
    revocation (``code``: the card's key digest). ``recorded_at``/``recorded_by``: when and by whom, if known."""

    elder_id: str
    kind: FactKind
    code: str
    effective: date
    recorded_at: datetime | None = None
    recorded_by: str = ""
    label: str = ""
    """The category's label in the rule book (特困人员), for the words; the code when empty."""


@dataclass(frozen=True, slots=True)
class Revocation:
    """A revoked card (by the key digest meals carry): meals tapped with it from ``since`` on get no subsidy."""

    card_key: str
    since: datetime
    fact: RegistryFact


@dataclass(frozen=True, slots=True)
class Registry:
    """The registry as it stands now, for the elders of the meals being settled."""

    profiles: Mapping[str, ElderProfile]
    revocations: Mapping[str, Revocation] = field(default_factory=dict)
    """By card key."""
    facts: tuple[RegistryFact, ...] = ()
    """Status changes and category ends, to explain a finding (revocations carry their own)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """A meal the present registry no longer supports: paid ``paid``, supported now ``now`` (lower), because of
    ``fact`` (None when no single recorded fact explains it, e.g. a corrected birth date)."""

    meal_id: str
    elder_id: str
    paid: Fen
    now: Fen
    reasons: tuple[Reason, ...]
    fact: RegistryFact | None

    def texts(self) -> tuple[str, str]:
        """(zh, en) naming the fact, its effective date and when and by whom it was recorded."""
        return fact_texts(self.fact, self.reasons)


_STATUS_WORDS = {
    EnrolmentStatus.SUSPENDED.value: ("暂停", "suspended"),
    EnrolmentStatus.CANCELLED.value: ("注销", "cancelled"),
    EnrolmentStatus.DECEASED.value: ("身故", "deceased"),
}


def fact_texts(fact: RegistryFact | None, reasons: Iterable[Reason] = ()) -> tuple[str, str]:
    """The words for a finding's fact, zh and en: 'deceased since 2026-10-20 (recorded 2026-10-26 by 王芳)'."""
    if fact is None:
        codes = ", ".join(r.value for r in reasons) or "-"
        return f"登记信息变更后不再支持该补贴（{codes}）", f"the registry as it stands no longer supports it ({codes})"
    if fact.kind == "status":
        zh_word, en_word = _STATUS_WORDS.get(fact.code, (fact.code, fact.code))
        zh, en = f"老人 {fact.effective} 起{zh_word}", f"elder {en_word} since {fact.effective}"
    elif fact.kind == "category_end":
        name = fact.label or fact.code
        zh, en = f"类别 {name} 已于 {fact.effective} 结束", f"category {name} ended on {fact.effective}"
    else:
        zh, en = f"就餐卡 {fact.effective} 起挂失/停用", f"card revoked since {fact.effective}"
    if fact.recorded_at is not None:
        when = fact.recorded_at.date().isoformat()
        by_zh = f"，登记人 {fact.recorded_by}" if fact.recorded_by else ""
        by_en = f" by {fact.recorded_by}" if fact.recorded_by else ""
        zh, en = f"{zh}（{when} 登记{by_zh}）", f"{en} (recorded {when}{by_en})"
    return zh, en


def _bounds(elder: ElderProfile, year: int) -> list[date]:
    """The days of ``year`` (and around it) from which :func:`assess` may answer differently for ``elder``: a
    status change, a category beginning or ending, a birthday. Between two of them every input of ``assess`` but
    the day itself is the same. Extra days only cut finer; none may be missing."""
    days = {s.effective_from for s in elder.statuses}
    for c in elder.categories:
        days.add(c.valid_from)
        if c.valid_to is not None:
            days.add(c.valid_to + timedelta(days=1))
    born = elder.birth_date
    for y in (year - 1, year, year + 1):
        try:
            days.add(date(y, born.month, born.day))
        except ValueError:  # 29 February in a common year: a year older on 1 March
            days.add(date(y, 3, 1))
    return sorted(days)


class _Pricer:
    """Quotes again through :func:`quote`, remembering results by what the quote depends on: the version, the
    elder and the stretch of days between two :func:`_bounds` (``quote`` reads an elder only through
    :func:`assess` on the day), the slot, the price and the withholding. A month of meals is then a few quotes
    per elder, not one per meal."""

    def __init__(self, rules: RuleBook) -> None:
        self.rules = rules
        self._books: dict[tuple[date, str | None], tuple[RuleBook, RuleVersion] | None] = {}
        self._bounds: dict[tuple[str, int], list[date]] = {}
        self._seen: dict[tuple[object, ...], tuple[Fen, tuple[Reason, ...]]] = {}

    def book_of(self, f: MealFact) -> tuple[RuleBook, RuleVersion] | None:
        """The book to quote ``f`` with: the rules whose version in force that day is the one that priced it."""
        key = (f.service_date, f.rule_version)
        if key not in self._books:
            self._books[key] = self._book(f.service_date, f.rule_version)
        return self._books[key]

    def _book(self, day: date, vid: str | None) -> tuple[RuleBook, RuleVersion] | None:
        version = self.rules.version_on(day)
        if version is not None and version.id == vid:
            return self.rules, version
        found = [v for v in self.rules.versions if v.id == vid]
        book = self.rules.model_copy(update={"versions": tuple(found)}) if found else None
        version = None if book is None else book.version_on(day)
        return None if book is None or version is None else (book, version)

    def subsidy(self, f: MealFact, elder: ElderProfile, withhold: Reason | None) -> tuple[Fen, tuple[Reason, ...]]:
        found = self.book_of(f)
        if found is None:
            return f.subsidy, ()  # the version that priced it is unknown here: nothing to compare with
        book, version = found
        bkey = (elder.elder_id, f.service_date.year)
        bounds = self._bounds.get(bkey)
        if bounds is None:
            bounds = self._bounds[bkey] = _bounds(elder, f.service_date.year)
        stretch = sum(1 for b in bounds if b <= f.service_date)  # a handful of days per elder
        key = (elder.elder_id, version.id, stretch, f.slot, f.price, withhold)
        seen = self._seen.get(key)
        if seen is None:
            request = MealRequest(
                canteen_id=f.canteen_id, slot=f.slot, price=f.price, service_time=f.service_time, withhold=withhold
            )
            q = quote(elder, request, (), book)
            seen = self._seen[key] = (q.subsidy, q.reasons)
        return seen


def recheck(facts: Iterable[MealFact], registry: Registry, rules: RuleBook) -> dict[str, Finding]:
    """The subsidised sales among ``facts`` whose subsidy the present registry no longer supports, by meal id.
    Sales of elders the registry does not know are left to intake's ``unknown_elder`` flag."""
    pricer = _Pricer(rules)
    out: dict[str, Finding] = {}
    for f in facts:
        if f.kind != "sale" or f.subsidy <= 0 or f.elder_id is None:
            continue
        elder = registry.profiles.get(f.elder_id)
        if elder is None:
            continue
        revoked = registry.revocations.get(f.card_key) if f.card_key is not None else None
        if revoked is not None and f.service_time < revoked.since:
            revoked = None
        now, reasons = pricer.subsidy(f, elder, Reason.CARD_REVOKED if revoked is not None else None)
        if now < f.subsidy:
            fact = revoked.fact if revoked is not None else _explain(f, elder, registry)
            if fact is None and QUOTE_MISMATCH in f.flags:
                continue  # over-subsidised at the counter, already held for that: no change of the registry
            out[f.meal_id] = Finding(f.meal_id, f.elder_id, f.subsidy, now, reasons, fact)
    return out


def _explain(f: MealFact, elder: ElderProfile, registry: Registry) -> RegistryFact | None:
    """The recorded fact behind a lower subsidy: the status in force that day, else the latest category that
    ended before it."""
    mine = [x for x in registry.facts if x.elder_id == f.elder_id and x.effective <= f.service_date]
    status = elder.status_on(f.service_date)
    if status is not None and status is not EnrolmentStatus.ENROLLED:
        statuses = [x for x in mine if x.kind == "status" and x.code == status.value]
        if statuses:
            return max(statuses, key=lambda x: x.effective)
    ended = [x for x in mine if x.kind == "category_end" and x.effective < f.service_date]
    return max(ended, key=lambda x: (x.effective, x.code)) if ended else None


def finding_note(findings: Iterable[Finding]) -> str:
    """One line per distinct fact (zh / en), for an adjustment line's note."""
    texts = sorted({" / ".join(f.texts()) for f in findings})
    return "; ".join(texts)


def describe(findings: Iterable[Finding]) -> dict[tuple[str, str, str], list[Finding]]:
    """Findings grouped by (elder, zh, en) text: one check result each."""
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    for f in sorted(findings, key=lambda f: f.meal_id):
        zh, en = f.texts()
        groups.setdefault((f.elder_id, zh, en), []).append(f)
    return groups
