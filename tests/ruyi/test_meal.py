"""The meal record contract: uuid7, validation, canonical bytes, the hash chain and its verification."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ruyi.idnum import Sex, make_resident_id
from ruyi.meal import (
    UNSEALED,
    ChainHead,
    MealRecord,
    canonical_bytes,
    chain_hash,
    genesis_hash,
    seal,
    uuid7,
    uuid7_unix_ms,
    verify_chain,
)
from ruyi.pricing import Quote
from ruyi.reasons import Reason
from tests.ruyi.factories import SHANGHAI

T0 = datetime(2026, 3, 2, 11, 30, tzinfo=SHANGHAI)


def a_quote(price: int = 1200, subsidy: int = 500, operating: int = 200) -> Quote:
    subsidised = subsidy > 0
    return Quote(
        price=price,
        subsidy=subsidy,
        elder_pays=price - subsidy,
        operating_subsidy=operating if subsidised else 0,
        subsidised=subsidised,
        service_date=T0.date(),
        age=82 if subsidised else None,
        programme="ruyi-city",
        rule_version="2026.1",
        tiers=("age80",) if subsidised else (),
        reasons=(Reason.SUBSIDISED,) if subsidised else (Reason.WALK_IN,),
        subsidised_today=0,
        per_day_limit=2,
    )


def fields(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "meal_id": uuid7(int(T0.timestamp() * 1000), bytes(range(10))),
        "terminal_id": "T-001",
        "canteen_id": "c01",
        "seq": 1,
        "kind": "sale",
        "service_time": T0,
        "elder_id": "E000123",
        "card_kind": "uid",
        "identified_by": "card",
        "menu_item_id": "set-a",
        "slot": "lunch",
        "payment_method": "cash",
        "quote": a_quote(),
        "cashier": "c7",
        "prev_hash": genesis_hash("T-001"),
        "hash": UNSEALED,
    }
    base.update(over)
    return base


def build_chain(terminal: str, n: int, *, start: ChainHead | None = None, salt: int = 0) -> list[MealRecord]:
    """``n`` valid records continuing ``start`` (genesis by default): sales, with a void and a reprint mixed in."""
    head = start or ChainHead.genesis(terminal)
    out: list[MealRecord] = []
    prev_hash, seq = head.hash, head.seq
    for i in range(n):
        seq += 1
        when = T0 + timedelta(minutes=i, microseconds=salt)
        over: dict[str, Any] = {
            "meal_id": uuid7(int(when.timestamp() * 1000), hashlib.sha256(f"{terminal}{seq}{salt}".encode()).digest()),
            "terminal_id": terminal,
            "seq": seq,
            "service_time": when,
            "prev_hash": prev_hash,
            "quote": a_quote(price=1000 + i, subsidy=(i * 37) % 500),
        }
        sales = [r for r in out if r.kind == "sale"]
        if i % 5 == 3 and sales:
            over |= {"kind": "void", "refers_to": sales[-1].meal_id, "reason": "点错菜品"}
        elif i % 7 == 6 and sales:
            over |= {"kind": "reprint", "refers_to": sales[0].meal_id}
        elif i % 3 == 2:
            over |= {"elder_id": None, "card_kind": None, "identified_by": "walk_in", "quote": a_quote(subsidy=0)}
        elif i % 4 == 1:
            over |= {"card_kind": None, "identified_by": "manual", "manual_reason": "忘带卡"}
        rec = seal(MealRecord(**fields(**over)))
        out.append(rec)
        prev_hash = rec.hash
    return out


# ---- uuid7


def test_uuid7_layout_and_time() -> None:
    ms = 1_772_425_800_123
    u = uuid7(ms, b"\xff" * 10)
    assert u.version == 7
    assert u.variant == "specified in RFC 4122"
    assert uuid7_unix_ms(u) == ms
    assert uuid7(ms, b"\x00" * 10).int >> 80 == ms


@given(
    a=st.integers(min_value=0, max_value=(1 << 48) - 2),
    d=st.integers(min_value=1, max_value=10**9),
    ra=st.binary(min_size=10, max_size=10),
    rb=st.binary(min_size=10, max_size=10),
)
def test_uuid7_sorts_by_time(a: int, d: int, ra: bytes, rb: bytes) -> None:
    b = min(a + d, (1 << 48) - 1)
    ua, ub = uuid7(a, ra), uuid7(b, rb)
    assert ua < ub
    assert str(ua) < str(ub)
    assert ua.version == ub.version == 7


def test_uuid7_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="48 bits"):
        uuid7(-1, bytes(10))
    with pytest.raises(ValueError, match="48 bits"):
        uuid7(1 << 48, bytes(10))
    with pytest.raises(ValueError, match="random bytes"):
        uuid7(0, bytes(9))


# ---- record validation


def test_a_valid_sale_validates() -> None:
    r = MealRecord(**fields())
    assert r.format == 1
    assert r.quote.elder_pays == 700


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"meal_id": uuid4()}, "version 7"),
        ({"service_time": T0.replace(tzinfo=None)}, "timezone"),
        ({"service_time": T0.replace(tzinfo=timezone(timedelta(hours=8, seconds=5)))}, "whole minutes"),
        ({"seq": 0}, "greater than or equal to 1"),
        ({"identified_by": "walk_in", "card_kind": None}, "walk-in has no elder"),
        ({"identified_by": "walk_in", "elder_id": None}, "walk-in has no elder"),
        ({"identified_by": "manual"}, "card_kind is given exactly"),
        ({"identified_by": "manual", "card_kind": None}, "manual_reason is given exactly"),
        ({"manual_reason": "x"}, "manual_reason is given exactly"),
        (
            {"identified_by": "manual", "card_kind": None, "manual_reason": "忘带卡", "card_key": "5f" * 32},
            "card_key is given only",
        ),
        ({"card_key": "5F" * 32}, "pattern"),
        ({"elder_id": None}, "elder_id is required"),
        ({"refers_to": uuid7(1, bytes(10))}, "refers to nothing"),
        ({"kind": "void", "reason": "错"}, "must name the record"),
        ({"kind": "void", "refers_to": uuid7(1, bytes(10))}, "a void needs a reason"),
        ({"kind": "reprint", "refers_to": uuid7(1, bytes(10)), "reason": "x"}, "a void needs a reason"),
        ({"quote": a_quote().model_copy(update={"elder_pays": 1})}, "subsidy \\+ elder_pays = price"),
        ({"elder_id": "张三"}, "pattern"),
        ({"cashier": "王 五"}, "pattern"),
        ({"elder_id": make_resident_id("320102", date(1950, 1, 1), 12, Sex.MALE)}, "resident ID number"),
        ({"prev_hash": "AB" * 32}, "pattern"),
        ({"payment_method": "card"}, "literal"),
        ({"extra": 1}, "Extra inputs"),
    ],
)
def test_invalid_records_are_refused(over: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MealRecord(**fields(**over))


def test_an_id_number_in_a_reason_is_refused() -> None:
    number = make_resident_id("320102", date(1950, 1, 1), 12, Sex.MALE)
    with pytest.raises(ValidationError, match="resident ID number"):
        MealRecord(**fields(kind="void", refers_to=uuid7(1, bytes(10)), reason=f"身份证{number}错了"))
    with pytest.raises(ValidationError, match="resident ID number"):
        MealRecord(**fields(identified_by="manual", card_kind=None, manual_reason=f"报号 {number.lower()}"))


def test_a_digit_run_that_is_not_an_id_number_is_fine() -> None:
    r = MealRecord(**fields(identified_by="manual", card_kind=None, manual_reason="卡号 123456789012345678 读不出"))
    assert r.manual_reason is not None


def test_records_are_frozen() -> None:
    r = MealRecord(**fields())
    with pytest.raises(ValidationError):
        r.seq = 2  # type: ignore[misc]


# ---- canonical bytes and hashes


def test_canonical_bytes_are_sorted_compact_json_without_the_hash() -> None:
    r = seal(MealRecord(**fields()))
    raw = canonical_bytes(r)
    data = json.loads(raw)
    assert "hash" not in data
    assert raw == json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert list(data) == sorted(data)
    assert data["service_time"] == "2026-03-02T03:30:00.000000+00:00"
    assert data["quote"]["price"] == 1200
    assert data["quote"]["subsidy"] == 500
    assert data["quote"]["service_date"] == "2026-03-02"
    assert data["quote"]["reasons"] == ["subsidised"]
    assert data["meal_id"] == str(r.meal_id)
    assert data["refers_to"] is None
    assert data["format"] == 1


def test_canonical_bytes_keep_chinese_as_utf8() -> None:
    r = MealRecord(**fields(identified_by="manual", card_kind=None, manual_reason="忘带卡"))
    assert "忘带卡".encode() in canonical_bytes(r)


def test_the_same_instant_in_another_offset_hashes_the_same() -> None:
    a = seal(MealRecord(**fields()))
    b = seal(MealRecord(**fields(service_time=T0.astimezone(UTC))))
    c = seal(MealRecord(**fields(service_time=T0.astimezone(timezone(timedelta(hours=-5))))))
    assert a.hash == b.hash == c.hash


def test_json_round_trip_keeps_the_hash() -> None:
    for r in build_chain("T-001", 12):
        back = MealRecord.model_validate_json(r.model_dump_json())
        assert back == r
        assert canonical_bytes(back) == canonical_bytes(r)
        assert chain_hash(back.prev_hash, back) == r.hash
        assert MealRecord.model_validate(json.loads(r.model_dump_json())).hash == r.hash


def test_chain_hash_is_sha256_of_prev_bytes_and_canonical() -> None:
    r = MealRecord(**fields())
    expected = hashlib.sha256(bytes.fromhex(r.prev_hash) + canonical_bytes(r)).hexdigest()
    assert chain_hash(r.prev_hash, r) == expected
    assert seal(r).hash == expected
    with pytest.raises(ValueError, match="64 lower-case hex"):
        chain_hash("00", r)


def test_pinned_hash_of_a_fixed_record() -> None:
    """The contract with the server: if this changes, it is a new MEAL_FORMAT, not an edit."""
    r = seal(MealRecord(**fields(card_key=PINNED_CARD_KEY)))
    assert genesis_hash("T-001") == hashlib.sha256(b"ruyi-meal-chain/v1\x00T-001").hexdigest()
    assert canonical_bytes(r).decode() == PINNED_CANONICAL
    assert r.hash == hashlib.sha256(bytes.fromhex(genesis_hash("T-001")) + PINNED_CANONICAL.encode()).hexdigest()
    assert r.hash == "89fd19a8ef94f9b0334952a1134fb89d17bf7b142814ff590ce3024fa33cc458"


PINNED_CARD_KEY = "5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f"
PINNED_CANONICAL = (
    '{"canteen_id":"c01","card_key":"5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f","card_kind'
    '":"uid","cashier":"c7","elder_id":"E000123","format":1,"identified_by":"card","kind":"sale","manual_reason":'
    'null,"meal_id":"019cac98-7ac0-7000-8203-040506070809","menu_item_id":"set-a","payment_method":"cash","prev_h'
    'ash":"52d4247e4f75d6b3ce0827eb90865bbfc8e0f701289b96a5c663ecb559895647","quote":{"age":82,"elder_pays":700,"'
    'operating_subsidy":200,"per_day_limit":2,"price":1200,"programme":"ruyi-city","reasons":["subsidised"],"rule'
    '_version":"2026.1","service_date":"2026-03-02","subsidised":true,"subsidised_today":0,"subsidy":500,"tiers":'
    '["age80"]},"reason":null,"refers_to":null,"seq":1,"service_time":"2026-03-02T03:30:00.000000+00:00","slot":"'
    'lunch","terminal_id":"T-001"}'
)


def test_genesis_depends_on_the_terminal() -> None:
    assert genesis_hash("T-001") != genesis_hash("T-002")
    assert len(genesis_hash("T-001")) == 64
    assert ChainHead.genesis("T-001") == ChainHead(terminal_id="T-001", seq=0, hash=genesis_hash("T-001"))


# ---- verify_chain: the tampering cases of the sync issue


def kinds(faults: list[Any]) -> list[str]:
    return [f.kind for f in faults]


def test_a_clean_chain_has_no_faults() -> None:
    chain = build_chain("T-001", 30)
    assert verify_chain(chain) == []
    assert verify_chain([]) == []
    assert verify_chain(chain[10:], start=ChainHead.of(chain[9])) == []


def test_deleting_a_middle_record_is_a_gap() -> None:
    chain = build_chain("T-001", 10)
    faults = verify_chain(chain[:4] + chain[5:])
    assert kinds(faults) == ["gap"]
    assert faults[0].seq == 6
    assert faults[0].expected == "seq 5"


def test_changing_an_amount_is_an_alteration() -> None:
    chain = build_chain("T-001", 10)
    r = chain[4]
    chain[4] = r.model_copy(update={"quote": r.quote.model_copy(update={"subsidy": r.quote.subsidy + 100})})
    faults = verify_chain(chain)
    assert kinds(faults) == ["altered"]
    assert faults[0].seq == 5
    assert faults[0].index == 4


def test_changing_an_amount_and_resealing_it_breaks_the_link() -> None:
    chain = build_chain("T-001", 10)
    r = chain[4]
    chain[4] = seal(r.model_copy(update={"quote": r.quote.model_copy(update={"elder_pays": 0})}))
    assert kinds(verify_chain(chain)) == ["break"]
    assert verify_chain(chain)[0].seq == 6


def test_swapping_two_records_is_detected() -> None:
    chain = build_chain("T-001", 10)
    chain[4], chain[5] = chain[5], chain[4]
    faults = verify_chain(chain)
    assert kinds(faults) == ["gap", "out_of_order"]
    assert [f.seq for f in faults] == [6, 5]


def test_swapping_contents_but_keeping_seq_numbers_is_detected() -> None:
    chain = build_chain("T-001", 10)
    a, b = chain[4], chain[5]
    chain[4] = b.model_copy(update={"seq": a.seq, "prev_hash": a.prev_hash})
    chain[5] = a.model_copy(update={"seq": b.seq, "prev_hash": b.prev_hash})
    assert set(kinds(verify_chain(chain))) >= {"altered"}


def test_truncate_then_continue_is_a_fork() -> None:
    chain = build_chain("T-001", 20)
    rewritten = build_chain("T-001", 5, start=ChainHead.of(chain[9]), salt=1)
    faults = verify_chain(chain + rewritten)
    assert kinds(faults) == ["fork"]
    assert faults[0].seq == 11
    # The server holds up to 20; the truncated terminal sends its new 11..15.
    faults = verify_chain(rewritten, start=ChainHead.of(chain[19]))
    assert kinds(faults) == ["rewind"] * 5


def test_a_splice_of_another_terminals_records_is_foreign() -> None:
    mine = build_chain("T-001", 6)
    theirs = build_chain("T-002", 10)
    faults = verify_chain(mine + theirs[6:])
    assert kinds(faults) == ["foreign"] * 4
    # Relabelled to this terminal, they neither hash nor link.
    relabelled = [r.model_copy(update={"terminal_id": "T-001"}) for r in theirs[6:]]
    assert set(kinds(verify_chain(mine + relabelled))) == {"altered", "break"}
    # Relabelled and resealed: the first one does not link to this chain.
    resealed: list[MealRecord] = []
    for r in theirs[6:]:
        resealed.append(seal(r.model_copy(update={"terminal_id": "T-001"})))
    assert kinds(verify_chain(mine + resealed)) == ["break", "break", "break", "break"]


def test_another_terminals_chain_from_its_start_does_not_link_to_this_genesis() -> None:
    theirs = [seal(r.model_copy(update={"terminal_id": "T-001"})) for r in build_chain("T-002", 1)]
    assert kinds(verify_chain(theirs, start=ChainHead.genesis("T-001"))) == ["break"]


def test_a_replayed_batch_is_replay_only() -> None:
    chain = build_chain("T-001", 10)
    faults = verify_chain(chain + chain[3:7] + build_chain("T-001", 2, start=ChainHead.of(chain[9])))
    assert kinds(faults) == ["replay"] * 4
    assert kinds(verify_chain(chain[5:6], start=ChainHead.of(chain[5]))) == ["replay"]


def test_a_meal_id_used_twice_is_flagged() -> None:
    chain = build_chain("T-001", 5)
    chain[3] = seal(chain[3].model_copy(update={"meal_id": chain[1].meal_id}))
    chain[4] = seal(chain[4].model_copy(update={"prev_hash": chain[3].hash}))
    assert kinds(verify_chain(chain)) == ["duplicate_id"]


def test_a_gap_at_the_start_or_after_the_head() -> None:
    chain = build_chain("T-001", 10)
    assert kinds(verify_chain(chain[2:], start=ChainHead.genesis("T-001"))) == ["gap"]
    assert kinds(verify_chain(chain[6:], start=ChainHead.of(chain[3]))) == ["gap"]


def test_fault_messages_name_the_record() -> None:
    chain = build_chain("T-001", 4)
    fault = verify_chain(chain[:1] + chain[2:])[0]
    assert "seq 3" in fault.message("en")
    assert "缺少记录" in fault.message()


# ---- properties


@st.composite
def chains(draw: st.DrawFn) -> list[MealRecord]:
    n = draw(st.integers(min_value=1, max_value=12))
    return build_chain(draw(st.sampled_from(["T-001", "t2", "CANTEEN-9:T3"])), n, salt=draw(st.integers(0, 999)))


@settings(max_examples=60, deadline=None)
@given(chain=chains())
def test_clean_chains_have_no_faults(chain: list[MealRecord]) -> None:
    assert verify_chain(chain) == []
    stored = [MealRecord.model_validate_json(r.model_dump_json()) for r in chain]
    assert verify_chain(stored, start=ChainHead.genesis(chain[0].terminal_id)) == []


def _different(draw: st.DrawFn, old: Any, new: st.SearchStrategy[Any]) -> Any:
    return draw(new.filter(lambda v: v != old))


_TEXT = st.text(min_size=1, max_size=12)
_IDENT = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,10}", fullmatch=True)
_HASH = st.binary(min_size=32, max_size=32).map(bytes.hex)
_UUID7 = st.builds(uuid7, st.integers(0, (1 << 48) - 1), st.binary(min_size=10, max_size=10))


def _mutate_quote(draw: st.DrawFn, q: Quote) -> Quote:
    name = draw(
        st.sampled_from(
            [
                "price",
                "subsidy",
                "elder_pays",
                "operating_subsidy",
                "subsidised",
                "service_date",
                "age",
                "programme",
                "rule_version",
                "tiers",
                "reasons",
                "subsidised_today",
                "per_day_limit",
            ]
        )
    )
    old = getattr(q, name)
    new: st.SearchStrategy[Any] = {
        "subsidised": st.booleans(),
        "service_date": st.dates(),
        "age": st.one_of(st.none(), st.integers(0, 130)),
        "programme": _IDENT,
        "rule_version": st.one_of(st.none(), _IDENT),
        "tiers": st.lists(_IDENT, max_size=3).map(tuple),
        "reasons": st.lists(st.sampled_from(list(Reason)), max_size=3).map(tuple),
        "per_day_limit": st.one_of(st.none(), st.integers(1, 5)),
    }.get(name, st.integers(0, 100_000))
    return q.model_copy(update={name: _different(draw, old, new)})


@st.composite
def mutated(draw: st.DrawFn) -> tuple[list[MealRecord], list[MealRecord]]:
    """A valid chain and the same chain with one record changed in one field (or one record removed,
    duplicated elsewhere, or two records swapped)."""
    chain = draw(chains())
    out = list(chain)
    i = draw(st.integers(0, len(chain) - 1))
    r = chain[i]
    field = draw(
        st.sampled_from(
            [
                "meal_id",
                "terminal_id",
                "canteen_id",
                "seq",
                "kind",
                "refers_to",
                "service_time",
                "elder_id",
                "card_kind",
                "identified_by",
                "manual_reason",
                "menu_item_id",
                "slot",
                "payment_method",
                "quote",
                "cashier",
                "reason",
                "prev_hash",
                "hash",
                "format",
                "#delete",
                "#swap",
                "#move",
            ]
        )
    )
    if field.startswith("#"):
        assume(len(chain) > 1)
    if field == "#delete":
        del out[i if i < len(chain) - 1 else i - 1]  # dropping the last one is indistinguishable from "not yet sent"
        return chain, out
    if field in ("#swap", "#move"):
        j = draw(st.integers(0, len(chain) - 1).filter(lambda j: j != i))
        if field == "#swap":
            out[i], out[j] = out[j], out[i]
        else:
            out.insert(j, out.pop(i))
        return chain, out
    old = getattr(r, field)
    strategies: dict[str, st.SearchStrategy[Any]] = {
        "meal_id": _UUID7,
        "terminal_id": _IDENT,
        "canteen_id": _IDENT,
        "seq": st.integers(1, 100),
        "kind": st.sampled_from(["sale", "void", "reprint"]),
        "refers_to": st.one_of(st.none(), _UUID7, st.sampled_from([c.meal_id for c in chain])),
        "service_time": st.integers(-(10**12), 10**12).filter(bool).map(lambda us: old + timedelta(microseconds=us)),
        "elder_id": st.one_of(st.none(), _IDENT),
        "card_kind": st.sampled_from([None, "uid", "resident_id", "social_security"]),
        "identified_by": st.sampled_from(["card", "manual", "walk_in"]),
        "manual_reason": st.one_of(st.none(), _TEXT),
        "menu_item_id": _IDENT,
        "slot": st.sampled_from(["breakfast", "lunch", "dinner"]),
        "payment_method": st.sampled_from(["cash", "wechat", "alipay", "other"]),
        "cashier": _IDENT,
        "reason": st.one_of(st.none(), _TEXT),
        "prev_hash": _HASH,
        "hash": _HASH,
        "format": st.integers(0, 3),
    }
    new = _mutate_quote(draw, r.quote) if field == "quote" else _different(draw, old, strategies[field])
    out[i] = r.model_copy(update={field: new})
    return chain, out


@settings(max_examples=400, deadline=None)
@given(case=mutated())
def test_any_single_mutation_is_detected(case: tuple[list[MealRecord], list[MealRecord]]) -> None:
    chain, tampered = case
    assert verify_chain(chain) == []
    assert verify_chain(tampered, start=ChainHead.genesis(chain[0].terminal_id)) != []


@settings(max_examples=150, deadline=None)
@given(case=mutated())
def test_a_resealed_change_cannot_hide_from_a_server_holding_the_chain(
    case: tuple[list[MealRecord], list[MealRecord]],
) -> None:
    """Whoever recomputes the hash of a changed record cannot hide the change from a server that holds the
    original: the record sent again is not a plain replay."""
    chain, tampered = case
    held = set(chain)
    resent = [r if r in held else seal(r) for r in tampered]
    assume(not set(resent) <= held)
    faults = verify_chain(chain + resent, start=ChainHead.genesis(chain[0].terminal_id))
    assert {f.kind for f in faults} - {"replay"}


def test_uuid7_of_the_record_time_is_usable() -> None:
    ms = (T0 - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    u = uuid7(ms, bytes(10))
    assert isinstance(u, UUID)
    assert datetime.fromtimestamp(uuid7_unix_ms(u) / 1000, UTC) == T0
