"""A small canteen world for the counter, receipt, snapshot and crash tests: a rule book, elders with cards,
a menu, and the snapshot built from them through :func:`terminal.snapshot.build_snapshot` (the real builder)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ruyi.cashier import CashierEntry, hash_pin
from ruyi.eligibility import CategorySpan, ElderProfile, EnrolmentStatus, StatusChange
from ruyi.idnum import Sex, make_resident_id
from ruyi.rules import RuleBook, parse_rulebook
from ruyi.sync import MenuItem
from terminal.snapshot import PlainElder, SnapshotData, build_snapshot

REPO = Path(__file__).resolve().parents[3]
ZONE = ZoneInfo("Asia/Shanghai")
DAY = date(2025, 6, 10)
NOON = datetime(2025, 6, 10, 12, 0, tzinfo=ZONE)
CARD_SECRET = b"test card-key secret, not for production"
CATEGORY_KEY = b"test category key, not for production"
TERMINAL_ID = "T01"
CANTEEN_ID = "canteen-01"
CANTEEN_NAME = "如意食堂鼓楼店"


def rules() -> RuleBook:
    return parse_rulebook((REPO / "deploy/rules/jiangsu-county-2023.yaml").read_text(encoding="utf-8"))


def _enrolled(elder_id: str, born: date, categories: tuple[CategorySpan, ...] = ()) -> ElderProfile:
    return ElderProfile(
        elder_id=elder_id,
        birth_date=born,
        statuses=(StatusChange(status=EnrolmentStatus.ENROLLED, effective_from=date(2023, 1, 1)),),
        categories=categories,
    )


@dataclass(frozen=True)
class Person:
    elder: PlainElder
    uid: str | None = None
    ssc: str | None = None

    @property
    def elder_id(self) -> str:
        return self.elder.profile.elder_id

    @property
    def id_number(self) -> str:
        assert self.elder.id_number is not None
        return self.elder.id_number


def _person(
    elder_id: str, name: str, born: date, seq: int, *, uid: str, ssc: str | None = None, **kw: object
) -> Person:
    number = make_resident_id("320102", born, seq, Sex.MALE)
    cards: list[tuple[str, str]] = [("uid", uid)]
    if ssc:
        cards.append(("social_security", ssc))
    profile = _enrolled(elder_id, born, **kw)  # type: ignore[arg-type]
    return Person(PlainElder(profile=profile, name=name, id_number=number, cards=tuple(cards)), uid=uid, ssc=ssc)


OLD = _person("e-0001", "张三丰", date(1940, 5, 1), 11, uid="04A1B2C3D4E5F6", ssc="A12345678")  # 85: ¥8
DIBAO = _person(
    "e-0002",
    "李四",
    date(1960, 1, 1),
    12,
    uid="04B1B2C3D4E5F6",
    categories=(CategorySpan(code="dibao", valid_from=date(2020, 1, 1)),),
)  # 65 with 低保: ¥8 (the category tier)
YOUNG = _person("e-0003", "王小五", date(1970, 3, 3), 13, uid="04C1B2C3D4E5F6")  # 55: full price, under age
REVOKED = _person("e-0004", "赵六", date(1945, 2, 2), 14, uid="04D1B2C3D4E5F6")  # 80: ¥5, but the card is revoked
PEOPLE = (OLD, DIBAO, YOUNG, REVOKED)
UNKNOWN_UID = "04EEEEEEEEEEEE"

MENU = (
    MenuItem(id="set-a", name="红烧肉套餐", price=1100, slot="lunch", valid_from=date(2025, 1, 1)),
    MenuItem(id="set-b", name="清蒸鱼套餐", price=1300, slot="lunch", valid_from=date(2025, 1, 1)),
    MenuItem(id="zao", name="豆浆油条", price=500, slot="breakfast", valid_from=date(2025, 1, 1)),
    MenuItem(
        id="old", name="过期套餐", price=900, slot="lunch", valid_from=date(2024, 1, 1), valid_to=date(2024, 12, 31)
    ),
)


# Two cashiers of the canteen, as the server sends them: staff ids, numbers, names and scrypt hashes of their PINs
# (fixed salts here so every test builds the same snapshot; the server draws a new salt for every PIN).
CASHIER_PINS = {"1001": "482913", "1002": "250807"}
CASHIERS = (
    CashierEntry(
        id="0192a6f0-0000-7000-8000-00000000c001",
        number="1001",
        name="王芳",
        pin_hash=hash_pin(CASHIER_PINS["1001"], b"salt-of-cashier1"),
    ),
    CashierEntry(
        id="0192a6f0-0000-7000-8000-00000000c002",
        number="1002",
        name="李雷",
        pin_hash=hash_pin(CASHIER_PINS["1002"], b"salt-of-cashier2"),
    ),
)


def snapshot_data(people: tuple[Person, ...] = PEOPLE) -> SnapshotData:
    return build_snapshot(
        created_at=NOON - timedelta(hours=6),
        rules=rules(),
        elders=[p.elder for p in people],
        menu=MENU,
        card_secret=CARD_SECRET,
        category_key=CATEGORY_KEY,
        revoked_cards=[("uid", REVOKED.uid or "")],
        cashiers=CASHIERS,
    )


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = NOON

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
