"""The local snapshot: built by the real builder, written, loaded with its indexes, bad files refused; and the
terminal config file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from terminal.config import ConfigError, config_toml, load_config, parse_config
from terminal.devices.cards import CardKind, card_key_digest
from terminal.devices.escpos_printer import FileConnection, TcpConnection
from terminal.devices.printing import PaperWidth
from terminal.snapshot import Snapshot, SnapshotError, load_snapshot, parse_snapshot, write_snapshot
from tests.terminal.counter.world import CARD_SECRET, DAY, OLD, REVOKED, UNKNOWN_UID, YOUNG, snapshot_data

REPO = Path(__file__).resolve().parents[3]


def test_write_load_lookup(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    write_snapshot(path, snapshot_data())
    snap = load_snapshot(path)
    assert snap.data == snapshot_data()
    entry = snap.card(card_key_digest(CARD_SECRET, "uid", OLD.uid or ""))
    assert entry is not None and entry.elder.elder_id == OLD.elder_id and not entry.revoked
    assert entry.elder.masked_name == "张*丰" and entry.elder.birth_year == 1940
    assert entry.elder.id_tail == OLD.id_number[-4:]
    ssc = snap.card(card_key_digest(CARD_SECRET, str(CardKind.SOCIAL_SECURITY), OLD.ssc or ""))
    assert ssc is not None and ssc.elder.elder_id == OLD.elder_id
    revoked = snap.card(card_key_digest(CARD_SECRET, "uid", REVOKED.uid or ""))
    assert revoked is not None and revoked.revoked
    assert snap.card(card_key_digest(CARD_SECRET, "uid", UNKNOWN_UID)) is None
    assert [m.id for m in snap.menu_on(DAY, "lunch")] == ["set-a", "set-b"]
    assert [e.elder_id for e in snap.find_manual(YOUNG.id_number[-4:].lower(), "王 五")] == [YOUNG.elder_id]


def _raw() -> dict[str, object]:
    data: dict[str, object] = json.loads(snapshot_data().model_dump_json())
    return data


def _elders(raw: dict[str, object]) -> list[dict[str, object]]:
    elders = raw["elders"]
    assert isinstance(elders, list)
    return elders


@pytest.mark.parametrize(
    "spoil",
    [
        lambda raw: _elders(raw)[0].update(masked_name="张三丰"),
        lambda raw: _elders(raw)[0].update(id_tail="19400501" + "1234"),
        lambda raw: _elders(raw)[1]["profile"]["categories"][0].update(code="dibao"),  # type: ignore[index]
        lambda raw: raw["rules"]["categories"].update(dibao="低保"),
        lambda raw: _elders(raw)[0].update(cards=["04A1B2C3D4E5F6"]),
        lambda raw: raw.update(created_at="2025-06-10T06:00:00"),
    ],
    ids=["unmasked-name", "long-id-tail", "clear-category", "clear-rulebook-category", "raw-card-number", "naive-time"],
)
def test_unredacted_snapshots_are_refused(spoil: object) -> None:
    raw = _raw()
    spoil(raw)  # type: ignore[operator]
    with pytest.raises(SnapshotError) as info:
        parse_snapshot(json.dumps(raw))
    assert info.value.problems[0].zh


def test_unreadable_snapshot(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError) as info:
        load_snapshot(tmp_path / "missing.json")
    assert "无法读取名册快照" in info.value.problems[0].zh


def test_snapshot_index_is_dicts() -> None:
    snap = Snapshot.of(snapshot_data())
    assert isinstance(snap.by_card, dict) and len(snap.by_card) == 5  # 4 UIDs and one social security card


def test_example_config_loads(tmp_path: Path) -> None:
    config = load_config(REPO / "deploy/terminal.example.toml")
    assert config.terminal_id and config.canteen_name
    assert config.paper in (PaperWidth.MM58, PaperWidth.MM80)
    assert config.card_kinds[-1] is CardKind.UID
    assert isinstance(config.printer.connection, TcpConnection)
    assert config.snapshot_path.is_absolute() and config.ledger_path.parent == config.data_dir


def test_config_paths_relative_to_file_and_secret(tmp_path: Path) -> None:
    (tmp_path / "secret").write_bytes(b"0123456789abcdef0123\n")
    path = tmp_path / "t.toml"
    path.write_text(
        """
terminal_id = "T09"
canteen_id = "c-9"
canteen_name = "如意食堂"
data_dir = "data"
snapshot_path = "snap.json"
card_key_secret_file = "secret"
card_kinds = ["resident_id", "uid"]
[slot_starts]
lunch = 10:30:00
dinner = "16:00"
[printer]
paper = 58
connection = { kind = "file", path = "out.bin" }
""",
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.data_dir == tmp_path / "data" and config.card_secret() == b"0123456789abcdef0123"
    assert (
        isinstance(config.printer.connection, FileConnection) and config.printer.connection.path == tmp_path / "out.bin"
    )
    assert config.paper is PaperWidth.MM58 and config.card_kinds == (CardKind.RESIDENT_ID, CardKind.UID)
    (tmp_path / "secret").write_bytes(b"short")
    with pytest.raises(ConfigError) as info:
        config.card_secret()
    assert "卡密钥至少需要" in info.value.problems[0].zh


@pytest.mark.parametrize(
    ("text", "path", "code"),
    [
        ("terminal_id = ", "", "config.toml"),
        ('terminal_id = "T1"', "canteen_id", "missing"),
        ('terminal_id = "T1"\ncolour = "red"', "colour", "extra_forbidden"),
    ],
)
def test_bad_config_is_explained(tmp_path: Path, text: str, path: str, code: str) -> None:
    file = tmp_path / "bad.toml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(file)
    problem = next(p for p in info.value.problems if p.path == path)
    assert problem.code == code and problem.zh and problem.en


def test_bad_kind_and_zone(tmp_path: Path) -> None:
    base = (REPO / "deploy/terminal.example.toml").read_text(encoding="utf-8")
    file = tmp_path / "bad.toml"
    file.write_text(base.replace('timezone = "Asia/Shanghai"', 'timezone = "Mars/Base"'), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(file)
    assert any("未知时区" in p.zh for p in info.value.problems)
    assert load_config(REPO / "deploy/terminal.example.toml").timezone == "Asia/Shanghai"


def test_reader_table_and_the_older_top_level_keys(tmp_path: Path) -> None:
    base = """
terminal_id = "T09"
canteen_id = "c-9"
canteen_name = "如意食堂"
data_dir = "data"
snapshot_path = "snap.json"
card_key_secret_file = "secret"
{top}
[printer]
connection = {{ kind = "file", path = "out.bin" }}
{reader}
"""
    table = parse_config(
        base.format(top="", reader='[reader]\nname = "ACS"\nkinds = ["resident_id", "uid"]'), base_dir=tmp_path
    )
    assert table.reader.kinds == table.card_kinds == (CardKind.RESIDENT_ID, CardKind.UID)
    assert table.reader_name == "ACS"
    older = parse_config(
        base.format(top='reader_name = "ACS"\ncard_kinds = ["resident_id", "uid"]', reader=""), base_dir=tmp_path
    )
    assert older.reader == table.reader
    assert parse_config(base.format(top="", reader=""), base_dir=tmp_path).card_kinds[-1] is CardKind.UID
    # written back, it reads as the same config
    assert parse_config(config_toml(table), base_dir=tmp_path).reader == table.reader
    with pytest.raises(ConfigError) as both:
        parse_config(base.format(top='card_kinds = ["uid"]', reader='[reader]\nkinds = ["uid"]'), base_dir=tmp_path)
    assert both.value.problems[0].zh and "card_kinds" in both.value.problems[0].en
    with pytest.raises(ConfigError) as repeated:
        parse_config(base.format(top="", reader='[reader]\nkinds = ["uid", "uid"]'), base_dir=tmp_path)
    assert repeated.value.problems[0].path == "reader.kinds"
