"""Import generated elders from a GBK CSV (as Excel writes it) on SQLite and PostgreSQL; print rows/s.

    .venv/bin/python bench/import_elders.py [--rows 200000] [--only sqlite|postgresql]

Each database is fresh and migrated; PostgreSQL is a throwaway cluster started here (as in the tests). The
figure covers the whole import path (decode, check every row with ruyi, registry lookups, bulk insert, commit),
called in-process, without HTTP.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ruyi.idnum import Sex, make_resident_id
from server.auth.principal import SYSTEM
from server.config import Settings
from server.db import make_engine, open_session, upgrade
from server.elders.imports import import_bytes
from server.rules.service import upload
from tests.server.pgcluster import throwaway_cluster

RULES = (Path(__file__).resolve().parents[1] / "deploy" / "rules" / "ruyi-city.yaml").read_text(encoding="utf-8")
REGIONS = ("320102", "320104", "320105", "320106", "320111", "320113", "320114", "320115")
CATEGORIES = ("", "", "", "", "低保", "特困（五保）", "失独", "孤寡/独居")


def make_csv(rows: int) -> bytes:
    lines = ["姓名,身份证号,社区,类别,入册日期"]
    born0 = date(1930, 1, 1)
    for i in range(rows):
        region = REGIONS[i % len(REGIONS)]
        born = born0 + timedelta(days=(i // (len(REGIONS) * 100)) % 12000)
        seq = (i // len(REGIONS)) % 100
        number = make_resident_id(region, born, seq, Sex.MALE if i % 2 else Sex.FEMALE)
        lines.append(f"老人{i},{number},第{i % 300}社区,{CATEGORIES[i % len(CATEGORIES)]},2026-01-01")
    return ("\r\n".join(lines) + "\r\n").encode("gb18030")


def run(url: str, data: bytes, rows: int) -> float:
    settings = Settings(environment="development", database_url=url, max_import_rows=rows + 1)
    upgrade(settings)
    engine = make_engine(url)
    try:
        with open_session(engine, write=True) as session:
            upload(session, actor=SYSTEM, source=RULES)
            session.commit()
        start = time.perf_counter()
        with open_session(engine, write=True) as session:
            report = import_bytes(
                session, actor=SYSTEM, settings=settings, data=data, filename="bench.csv", dry_run=False
            )
            session.commit()
        elapsed = time.perf_counter() - start
    finally:
        engine.dispose()
    if report.status != "imported" or report.new != rows:
        raise SystemExit(f"import failed: {report.status}, {report.new} new, {report.invalid} invalid")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    data = make_csv(args.rows)
    print(f"elders import: {args.rows} rows, {len(data) / 1e6:.1f} MB GBK CSV")
    results: dict[str, float] = {}
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            results["sqlite"] = run(f"sqlite:///{tmp}/bench.sqlite3", data, args.rows)
    if args.only in (None, "postgresql"):
        with throwaway_cluster() as cluster:
            with cluster.admin() as conn:
                conn.execute("CREATE DATABASE bench")
            results["postgresql"] = run(cluster.url("bench"), data, args.rows)
    for name, secs in results.items():
        print(f"  {name:<11} {secs:7.2f} s  {args.rows / secs:9,.0f} rows/s")
    if len(results) == 2:
        print(f"  postgresql/sqlite time ratio: {results['postgresql'] / results['sqlite']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
