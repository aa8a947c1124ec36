"""The edit checks of a month: one plain function per check, each reading a frozen :class:`MonthView` and the
config and returning its findings; :data:`CHECKS` lists them and :func:`run_checks` runs them all. The checks never
change the statement; error results block closing, warnings need a note.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ruyi.money import format_yuan
from ruyi.rules import SLOTS, RuleBook
from ruyi.settlement.model import (
    CARD_FLAGS,
    CHAIN_FLAGS,
    STATUS_FLAGS,
    CheckResult,
    CorrectionLine,
    Evidence,
    HeldMeal,
    InvalidSettlementInput,
    MealFact,
    Month,
    SettlementConfig,
    Severity,
    ZTotals,
    pct,
)
from ruyi.settlement.month import MonthLedger, dedupe
from ruyi.sync import Z_FIGURES

CHECK_CODES: dict[str, Severity] = {
    "attendance_exceeded": "warning",
    "attendance_unknown": "warning",
    "two_canteens": "error",
    "daily_limit_exceeded": "error",
    "after_cancellation": "error",
    "card_revoked": "error",
    "chain_unresolved": "error",
    "manual_share": "warning",
    "void_share": "warning",
    "volume_spike": "warning",
    "terminal_mismatch": "error",
    "zreport_missing": "warning",
    "meals_held": "warning",
    "void_without_sale": "warning",
    "correction_window": "error",
    "eligibility_changed": "error",
}
"""Every check code with its default severity (:attr:`SettlementConfig.severities` may change it). Checks about
single meals (two canteens, daily limit, cancellation, revoked card, chain) look only at meals without a
decision: a reviewer's accept or reject resolves them."""


@dataclass(frozen=True, slots=True)
class MonthView:
    """What the checks read: the month classified, and the figures around it."""

    ledger: MonthLedger
    month: Month
    rules: RuleBook
    corrections: tuple[CorrectionLine, ...]
    enrolled: Mapping[date, int]
    """Eligible elders of the canteen's catchment per day: those whose home canteen it is and those served a
    subsidised meal there in the month, each on the days they are eligible (the server counts them)."""
    z_reports: tuple[ZTotals, ...]
    other_canteens: tuple[MealFact, ...]
    """The same elders' meals (sales and voids) at other canteens around this month."""
    baseline: Mapping[date, int]
    """This canteen's daily meal counts before the month."""
    held: tuple[HeldMeal, ...]

    @property
    def live(self) -> list[MealFact]:
        """The month's sales not voided."""
        return [f for mid, f in self.ledger.sales.items() if mid not in self.ledger.void_of]

    @property
    def claimed(self) -> list[MealFact]:
        """The live sales not rejected."""
        return [f for f in self.live if f.decision != "rejected"]


Check = Callable[[MonthView, SettlementConfig], list[CheckResult]]


def _result(  # noqa: PLR0917
    config: SettlementConfig, code: str, subject: str, zh: str, en: str, evidence: Evidence
) -> CheckResult:
    key = f"{code}:{subject}" if subject else code
    return CheckResult(code, key, config.severities.get(code, CHECK_CODES[code]), zh, en, evidence)


def _ids(facts: Iterable[MealFact]) -> tuple[str, ...]:
    return tuple(sorted({f.meal_id for f in facts}))


def _days(facts: Iterable[MealFact | HeldMeal]) -> tuple[date, ...]:
    return tuple(sorted({f.service_date for f in facts}))


def check_attendance(view: MonthView, config: SettlementConfig) -> list[CheckResult]:
    """Subsidised meals per day against the canteen's catchment x attendance factor: the eligible elders whose home
    canteen it is plus those served a subsidised meal there in the month (:attr:`MonthView.enrolled`), so visiting
    elders never warn by themselves; more meals than people who could have eaten them does."""
    per_day: dict[date, list[MealFact]] = defaultdict(list)
    for f in view.claimed:
        if f.subsidised:
            per_day[f.service_date].append(f)
    out: list[CheckResult] = []
    unknown: list[date] = []
    factor = config.attendance_factor
    for day in sorted(per_day):
        meals = per_day[day]
        n = view.enrolled.get(day)
        if n is None:
            unknown.append(day)
            continue
        if factor.below(len(meals), n):
            out.append(_result(
                config,
                "attendance_exceeded",
                day.isoformat(),
                f"{day} 补贴餐 {len(meals)} 份，超过服务范围内合资格老人 {n} 人（本食堂登记及本月来此就餐）× 出勤系数 "
                f"{factor}",
                f"{day}: {len(meals)} subsidised meals > {n} eligible elders of the catchment (registered here or "
                f"served here this month) x attendance factor {factor}",
                Evidence(
                    _ids(meals),
                    (day,),
                    "",
                    (("meals", len(meals)), ("enrolled", n), ("factor_num", factor.num),
                     ("factor_den", factor.den)),
                ),
            ))  # fmt: skip
    if unknown:
        out.append(
            _result(
                config,
                "attendance_unknown",
                "",
                f"{len(unknown)} 天有补贴餐但缺少在册老人人数，无法核对出勤",
                f"{len(unknown)} days with subsidised meals have no enrolment figure: attendance not checked",
                Evidence((), tuple(unknown)),
            )
        )
    return out


def _shared_elders(view: MonthView) -> tuple[dict[str, list[MealFact]], dict[str, list[MealFact]]]:
    """Per elder seen at another canteen: their subsidised meals there (not voided, not rejected) and ours here."""
    others_voided = {f.refers_to for f in view.other_canteens if f.kind == "void"}
    theirs: dict[str, list[MealFact]] = defaultdict(list)
    for f in dedupe(view.other_canteens).values():
        if (
            f.kind == "sale"
            and f.elder_id is not None
            and f.canteen_id != view.ledger.canteen_id
            and f.subsidised
            and f.meal_id not in others_voided
            and f.decision != "rejected"
        ):
            theirs[f.elder_id].append(f)
    ours: dict[str, list[MealFact]] = defaultdict(list)
    for f in view.claimed:
        if f.elder_id in theirs and f.subsidised:
            ours[f.elder_id].append(f)
    return theirs, ours


def _first_at_or_after(times: Sequence[datetime], t: datetime) -> int:
    lo, hi = 0, len(times)
    while lo < hi:
        mid = (lo + hi) // 2
        if times[mid] < t:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _close_meals(
    ours: list[MealFact], theirs: list[MealFact], interval: timedelta
) -> dict[str, tuple[MealFact, list[MealFact]]]:
    """Our undecided meals with their meals at other canteens less than ``interval`` apart."""
    theirs = sorted(theirs, key=lambda f: (f.service_time, f.meal_id))
    times = [f.service_time for f in theirs]
    close: dict[str, tuple[MealFact, list[MealFact]]] = {}
    for f in sorted(ours, key=lambda f: (f.service_time, f.meal_id)):
        if f.decision is not None:
            continue
        i = _first_at_or_after(times, f.service_time - interval)
        near = []
        while i < len(theirs) and times[i] - f.service_time < interval:
            if abs(times[i] - f.service_time) < interval:
                near.append(theirs[i])
            i += 1
        if near:
            close[f.meal_id] = (f, near)
    return close


def check_two_canteens(view: MonthView, config: SettlementConfig) -> list[CheckResult]:
    """The same elder subsidised here and at another canteen too close in time."""
    theirs, ours = _shared_elders(view)
    interval = timedelta(minutes=config.implausible_interval_minutes)
    out: list[CheckResult] = []
    for elder in sorted(ours):
        close = _close_meals(ours[elder], theirs[elder], interval)
        for mid in sorted(close):
            f, near = close[mid]
            gap = min(abs(n.service_time - f.service_time) for n in near)
            minutes = int(gap.total_seconds()) // 60
            at = f"{f.service_time.astimezone(view.rules.zone):%Y-%m-%d %H:%M}"
            out.append(
                _result(
                    config,
                    "two_canteens",
                    f"{elder}:{mid}",
                    f"老人 {elder} 在 {at} 于本食堂就餐，{minutes} 分钟内又在 {near[0].canteen_id} 享受补贴",
                    f"elder {elder} was subsidised here and at {near[0].canteen_id} within {minutes} minutes ({at})",
                    Evidence((mid, *_ids(near)), (f.service_date,), elder, (("minutes_apart", minutes),)),
                )
            )
    return out


def check_daily_limit(view: MonthView, config: SettlementConfig) -> list[CheckResult]:
    """An elder over the daily (or slot) limit across canteens, under the version in force that day."""
    theirs, ours = _shared_elders(view)
    claimed_ids = {f.meal_id for f in view.claimed}
    out: list[CheckResult] = []
    for elder in sorted(ours):
        by_day: dict[date, list[MealFact]] = defaultdict(list)
        for f in ours[elder] + theirs[elder]:
            by_day[f.service_date].append(f)
        for day in sorted(by_day):
            version = view.rules.version_on(day)
            if version is None:
                continue
            meals = by_day[day]
            groups: list[tuple[str, int | None, list[MealFact]]] = [("", version.limits.per_day, meals)]
            for slot in SLOTS:
                groups.append((slot, version.limits.per_slot, [m for m in meals if m.slot == slot]))
            for slot_name, limit, group in groups:
                undecided_ours = [m for m in group if m.meal_id in claimed_ids and m.decision is None]
                if limit is None or len(group) <= limit or not undecided_ours:
                    continue
                where = f"{day}" + (f" {slot_name}" if slot_name else "")
                out.append(
                    _result(
                        config,
                        "daily_limit_exceeded",
                        f"{elder}:{where.replace(' ', ':')}",
                        f"老人 {elder} 于 {where} 跨食堂享受补贴 {len(group)} 次，超过上限 {limit} 次",
                        f"elder {elder} was subsidised {len(group)} times on {where} across canteens (limit {limit})",
                        Evidence(_ids(group), (day,), elder, (("meals", len(group)), ("limit", limit))),
                    )
                )
    return out


def check_status_flags(view: MonthView, config: SettlementConfig) -> list[CheckResult]:
    """Undecided meals flagged at intake: after an elder's cancellation or suspension, on a revoked card."""
    undecided = [f for f in view.claimed if f.decision is None]
    out: list[CheckResult] = []
    for code, flagset, zh, en in (
        ("after_cancellation", STATUS_FLAGS, "老人注销、身故或暂停后仍有就餐记录",
         "meals after cancellation or suspension"),
        ("card_revoked", CARD_FLAGS, "挂失或停用的卡仍有就餐记录", "meals on a revoked card"),
    ):  # fmt: skip
        hit = [f for f in undecided if flagset.intersection(f.flags)]
        if hit:
            out.append(
                _result(
                    config,
                    code,
                    "",
                    f"{zh}：{len(hit)} 份待审核",
                    f"{en}: {len(hit)} awaiting a decision",
                    Evidence(_ids(hit), _days(hit), "", (("meals", len(hit)),)),
                )
            )
    return out


def check_chain(view: MonthView, config: SettlementConfig) -> list[CheckResult]:
    """Undecided records (sales, voids, orphan voids) with a hash-chain fault from intake."""
    ledger = view.ledger
    every = [*ledger.sales.values(), *ledger.voids.values(), *ledger.orphan_voids]
    chain = [f for f in every if f.decision is None and CHAIN_FLAGS.intersection(f.flags)]
    if not chain:
        return []
    terminals = sorted({f.terminal_id for f in chain})
    return [
        _result(
            config,
            "chain_unresolved",
            "",
            f"终端 {', '.join(terminals)} 的哈希链问题（缺号、断链等）未处理：{len(chain)} 条记录",
            f"unresolved chain faults (gaps, breaks …) on terminals {', '.join(terminals)}: {len(chain)} records",
            Evidence(_ids(chain), _days(chain), ",".join(terminals)),
        )
    ]


def check_manual_share(view: MonthView, config: SettlementConfig) -> list[CheckResult]:
    """Per cashier, the share of identified meals identified by hand."""
    identified: dict[str, list[MealFact]] = defaultdict(list)
    for f in view.live:
        if f.identified_by != "walk_in":
            identified[f.cashier].append(f)
    out: list[CheckResult] = []
    limit = config.manual_share_max
    for cashier in sorted(identified):
        meals = identified[cashier]
        manual = [f for f in meals if f.identified_by == "manual"]
        share = pct(len(manual), len(meals))
        if len(meals) >= config.manual_min_meals and limit.below(len(manual), len(meals)):
            out.append(
                _result(
                    config,
                    "manual_share",
                    cashier,
                    f"收银员 {cashier} 人工识别占比 {share}（{len(manual)}/{len(meals)}），超过 {limit.percent()}",
                    f"cashier {cashier}: manual identifications {share} ({len(manual)}/{len(meals)}) above "
                    f"{limit.percent()}",
                    Evidence(_ids(manual), (), cashier, (("manual", len(manual)), ("identified", len(meals)))),
                )
            )
    return out


def check_void_share(view: MonthView, config: SettlementConfig) -> list[CheckResult]:
    """Per cashier, voids against sales."""
    sales_by: dict[str, int] = defaultdict(int)
    for f in view.ledger.sales.values():
        sales_by[f.cashier] += 1
    voids_by: dict[str, list[MealFact]] = defaultdict(list)
    for v in view.ledger.voids.values():
        voids_by[v.cashier].append(v)
    out: list[CheckResult] = []
    limit = config.void_share_max
    for cashier in sorted(voids_by):
        voids = voids_by[cashier]
        sales = sales_by.get(cashier, 0)
        if sales < config.void_min_sales or not limit.below(len(voids), sales):
            continue
        share = pct(len(voids), sales)
        out.append(
            _result(
                config,
                "void_share",
                cashier,
                f"收银员 {cashier} 作废 {len(voids)} 笔，占其销售 {sales} 笔的 {share}，超过 {limit.percent()}",
                f"cashier {cashier}: {len(voids)} voids of {sales} sales ({share}) above {limit.percent()}",
                Evidence(_ids(voids), (), cashier, (("voids", len(voids)), ("sales", sales))),
            )
        )
    return out


def check_spikes(view: MonthView, config: SettlementConfig) -> list[CheckResult]:
    """Daily volume against the rolling baseline of the days with meals before."""
    counts: dict[date, int] = {d: n for d, n in view.baseline.items() if d < view.month.first_day}
    month_counts: dict[date, int] = defaultdict(int)
    for f in view.live:
        month_counts[f.service_date] += 1
    counts.update(month_counts)
    spike = config.spike_factor
    out: list[CheckResult] = []
    for day in sorted(month_counts):
        window = [counts.get(day - timedelta(days=k), 0) for k in range(1, config.baseline_days + 1)]
        window = [n for n in window if n > 0]
        if len(window) < config.baseline_min_days:
            continue
        n = month_counts[day]
        if spike.below(n * len(window), sum(window)):
            mean_tenths = (sum(window) * 10 * 2 + len(window)) // (2 * len(window))
            mean = f"{mean_tenths // 10}.{mean_tenths % 10}"
            out.append(
                _result(
                    config,
                    "volume_spike",
                    day.isoformat(),
                    f"{day} 就餐 {n} 份，超过前 {len(window)} 个营业日日均 {mean} 份的 {spike} 倍",
                    f"{day}: {n} meals, more than {spike} x the daily mean {mean} of the {len(window)} days before",
                    Evidence(
                        (), (day,), "", (("meals", n), ("baseline_days", len(window)), ("baseline_meals", sum(window)))
                    ),
                )
            )
    return out


def _z_of_month(view: MonthView) -> dict[tuple[str, date], ZTotals]:
    zs: dict[tuple[str, date], ZTotals] = {}
    for z in view.z_reports:
        if not view.month.contains(z.day):
            continue
        prev = zs.get((z.terminal_id, z.day))
        if prev is not None and prev != z:
            raise InvalidSettlementInput.one(
                "settlement.zreport_conflict",
                f"终端 {z.terminal_id} 在 {z.day} 有两份不同的日结报表",
                f"two different Z-reports for terminal {z.terminal_id} on {z.day}",
            )
        zs[(z.terminal_id, z.day)] = z
    return zs


def check_terminals(view: MonthView, config: SettlementConfig) -> list[CheckResult]:
    """Terminal reconciliation: Z-report totals per terminal and day == the server's."""
    server: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for f in view.ledger.sales.values():
        row = server[(f.terminal_id, f.service_date)]
        if f.meal_id in view.ledger.void_of:
            row[1] += 1
        else:
            row[0] += 1
            row[2] += f.price
            row[3] += f.subsidy
            row[4] += f.elder_pays
    zs = _z_of_month(view)
    out: list[CheckResult] = []
    for terminal, day in sorted(set(server) | set(zs)):
        ours_row = server.get((terminal, day), [0, 0, 0, 0, 0])
        zr = zs.get((terminal, day))
        if zr is None:
            out.append(_result(
                config,
                "zreport_missing",
                f"{terminal}:{day}",
                f"终端 {terminal} 缺少 {day} 的日结报表",
                f"no Z-report from terminal {terminal} for {day}",
                Evidence((), (day,), terminal),
            ))  # fmt: skip
            continue
        theirs_row = [getattr(zr, n) for n in Z_FIGURES]
        if ours_row == theirs_row:
            continue
        diffs = [(n, a, b) for n, a, b in zip(Z_FIGURES, ours_row, theirs_row, strict=True) if a != b]
        text = ", ".join(f"{n} {a} != {b}" for n, a, b in diffs)
        out.append(_result(
            config,
            "terminal_mismatch",
            f"{terminal}:{day}",
            f"终端 {terminal} {day} 日结与服务器不符（服务器 != 终端）：{text}",
            f"terminal {terminal} on {day}: Z-report differs from the server (server != terminal): {text}",
            Evidence(
                tuple(sorted(f.meal_id for f in view.ledger.sales.values()
                             if f.terminal_id == terminal and f.service_date == day)),
                (day,),
                terminal,
                tuple((f"server_{n}", a) for n, a, _ in diffs) + tuple((f"terminal_{n}", b) for n, _, b in diffs),
            ),
        ))  # fmt: skip
    return out


def check_held(view: MonthView, config: SettlementConfig) -> list[CheckResult]:
    """Flagged meals awaiting a decision (this month's and late ones): not paid now."""
    still_held = [h for h in view.held if h.status == "held"]
    if not still_held:
        return []
    return [
        _result(
            config,
            "meals_held",
            "",
            f"{len(still_held)} 份有标记的餐次待审核，本月不支付，审核通过后以调整项支付",
            f"{len(still_held)} flagged meals await a decision: not paid now, paid as adjustments once accepted",
            Evidence(
                tuple(h.meal_id for h in still_held),
                _days(still_held),
                "",
                (("meals", len(still_held)), ("subsidy", sum(h.subsidy for h in still_held))),
            ),
        )
    ]


def check_orphan_voids(view: MonthView, config: SettlementConfig) -> list[CheckResult]:
    """Voids referring to no sale of this month."""
    orphans = view.ledger.orphan_voids
    if not orphans:
        return []
    return [
        _result(
            config,
            "void_without_sale",
            "",
            f"{len(orphans)} 条作废记录找不到本月对应的销售",
            f"{len(orphans)} voids refer to no sale of this month",
            Evidence(_ids(orphans), _days(orphans)),
        )
    ]


def check_corrections(view: MonthView, config: SettlementConfig) -> list[CheckResult]:
    """Corrections only for earlier months, upward ones only within the upward window."""
    window = config.upward_window_months
    out: list[CheckResult] = []
    for c in view.corrections:
        months_back = view.month.index() - c.origin.index()
        if months_back <= 0 or (c.amount > 0 and window is not None and months_back > window):
            out.append(
                _result(
                    config,
                    "correction_window",
                    c.line_id,
                    f"调整 {c.line_id}（{c.origin}，{format_yuan(c.amount)}）：只能调整更早月份，"
                    f"向上调整限 {window} 个月内",
                    f"correction {c.line_id} ({c.origin}, {format_yuan(c.amount)}): only earlier months, upward only "
                    f"within {window} months",
                    Evidence((), (), c.line_id, (("amount", c.amount), ("months_back", months_back))),
                )
            )
    return out


CHECKS: list[Check] = [
    check_attendance,
    check_two_canteens,
    check_daily_limit,
    check_status_flags,
    check_chain,
    check_manual_share,
    check_void_share,
    check_spikes,
    check_terminals,
    check_held,
    check_orphan_voids,
    check_corrections,
]
"""Every edit check, in the order they run (their results are sorted by key)."""


def run_checks(view: MonthView, config: SettlementConfig) -> list[CheckResult]:
    """Every check's results, sorted by key."""
    return sorted((r for check in CHECKS for r in check(view, config)), key=lambda c: c.key)
