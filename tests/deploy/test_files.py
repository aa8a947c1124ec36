"""The deploy files are valid for the tools that read them: nginx -t, systemd-analyze verify, bash -n."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import DEPLOY, PYTHON, REPO, need
from tests.deploy.nginxconf import nginx_prefix
from tests.server.pgcluster import free_port


def test_nginx_accepts_the_site_config(tmp_path: Path) -> None:
    nginx = need("nginx")
    main = nginx_prefix(tmp_path / "nginx", https_port=free_port(), http_port=free_port())
    done = subprocess.run(
        [nginx, "-t", "-c", str(main), "-p", str(tmp_path / "nginx")], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr and "test is successful" in done.stderr


def test_nginx_refuses_a_broken_site_config(tmp_path: Path) -> None:
    """The check above can fail: a missing semicolon is caught."""
    nginx = need("nginx")
    main = nginx_prefix(tmp_path / "nginx", https_port=free_port(), http_port=free_port())
    site = tmp_path / "nginx" / "ruyi.conf"
    site.write_text(site.read_text(encoding="utf-8").replace("client_max_body_size 50m;", "client_max_body_size 50m"))
    done = subprocess.run(
        [nginx, "-t", "-c", str(main), "-p", str(tmp_path / "nginx")], check=False, capture_output=True, text=True
    )
    assert done.returncode != 0


def _units(tmp_path: Path) -> list[Path]:
    """The units as installed: /opt/ruyi paths pointed at this checkout, templates given an instance name."""
    out = []
    for unit in [*sorted((DEPLOY / "systemd").glob("*.*")), *sorted((DEPLOY / "systemd" / "user").glob("*.*"))]:
        if unit.suffix not in (".service", ".timer"):
            continue
        text = unit.read_text(encoding="utf-8")
        text = text.replace("/opt/ruyi/.venv/bin/", f"{PYTHON.parent}/").replace("/opt/ruyi/", f"{REPO}/")
        name = unit.name.replace("@.", "@T01.")
        (tmp_path / name).write_text(text, encoding="utf-8")
        out.append(tmp_path / name)
    return out


def test_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    units = _units(tmp_path)
    assert {u.name for u in units} >= {"ruyi-server.service", "ruyi-terminal@T01.service", "ruyi-cashier.service"}
    done = subprocess.run(
        [analyze, "verify", "--man=no", *map(str, units)], check=False, capture_output=True, text=True, cwd=tmp_path
    )
    if done.returncode != 0 and "Failed to" in done.stderr and "bus" in done.stderr.lower():
        pytest.skip(f"systemd-analyze cannot run here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert "ruyi" not in done.stderr, done.stderr  # no warning about our units


def test_server_unit_runs_several_workers_on_the_ops_factory() -> None:
    unit = (DEPLOY / "systemd" / "ruyi-server.service").read_text(encoding="utf-8")
    assert "server.ops.asgi:make_app --factory" in unit and "--workers ${RUYI_WORKERS}" in unit
    env = (DEPLOY / "env" / "server.env.example").read_text(encoding="utf-8")
    assert re.search(r"^RUYI_WORKERS=[2-9]", env, re.M) and "RUYI_ENVIRONMENT=production" in env
    assert re.search(r"^RUYI_SECRET_KEY=$", env, re.M)  # no secret shipped


def test_shell_scripts_parse() -> None:
    scripts = sorted(DEPLOY.rglob("*.sh"))
    assert len(scripts) >= 6
    for script in scripts:
        done = subprocess.run(["bash", "-n", str(script)], check=False, capture_output=True, text=True)
        assert done.returncode == 0, f"{script}: {done.stderr}"
