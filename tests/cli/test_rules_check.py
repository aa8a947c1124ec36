from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main
from tests.ruyi.factories import RULES_DIR

SHIPPED = sorted(RULES_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_rule_books_pass_with_a_table_of_sample_quotes(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("✓")
    assert "59周岁" in out and "付" in out and "补" in out
    assert "未满补贴年龄" in out  # the 59-year-old pays full price, and the table says why


def test_table_for_city_rules_shows_both_versions_and_the_july_raise(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(RULES_DIR / "ruyi-city.yaml"), "--price", "10"]) == 0
    out = capsys.readouterr().out
    first, second = out.split("版本 2026.7")
    assert "版本 2026.1: 2026-01-01 – 2026-06-30" in first
    row60 = next(line for line in first.splitlines() if line.startswith("60周岁"))
    assert "付8.00 补2.00" in row60
    row60_july = next(line for line in second.splitlines() if line.startswith("60周岁"))
    assert "付7.00 补3.00" in row60_july


def test_on_date_selects_one_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(RULES_DIR / "ruyi-city.yaml"), "--on", "2026-03-01"]) == 0
    out = capsys.readouterr().out
    assert "版本 2026.1" in out and "版本 2026.7" not in out


def test_broken_file_lists_errors_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (RULES_DIR / "jiangsu-county-2023.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("[lunch]", "[brunch]"), "utf-8")
    assert main(["rules", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith("1 处错误")
    assert "versions[0].subsidised_slots[0]: 取值必须是" in out
    bad.write_text(text.replace('{fixed: "5.00"}', '{fixed: "-5.00"}').replace("age_max: 94", "age_max: 84"), "utf-8")
    assert main(["rules", "check", str(bad), "--lang", "en"]) == 1
    out = capsys.readouterr().out
    assert "2 problem(s)" in out
    assert "versions[0].tiers[1].subsidy.fixed: must not be negative" in out
    assert "versions[0].tiers[2].when.age_max: age_max is below age_min" in out


def test_missing_or_undecodable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(tmp_path / "nope.yaml")]) == 2
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes("name: 如意".encode("gbk"))
    assert main(["rules", "check", str(gbk)]) == 2
    assert "✗" in capsys.readouterr().out


def test_the_installed_command_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "rules", "check", str(SHIPPED[0])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "✓" in done.stdout


def test_an_install_without_the_server_extra_still_checks_rules() -> None:
    """A terminal-only install has no FastAPI: rule checks work and `ruyi server` says what to install."""
    code = (
        "import sys; sys.modules['fastapi'] = None\n"
        "from cli.main import main\n"
        f"assert main(['rules', 'check', {str(SHIPPED[0])!r}]) == 0\n"
        "sys.exit(main(['server']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 2, done.stderr
    assert "pip install '.[server]'" in done.stderr
