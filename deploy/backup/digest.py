"""Row counts and a content digest per table of a database (SQLAlchemy URL): ``digest.py URL``.

One line per table, ``table rows sha256``, in table-name order, then ``* total sha256`` over the lines. Rows are
read in primary-key order and each value is written in a canonical text form, so the same content gives the same
digest in a restored copy on the same kind of database. Used by backup-server.sh and restore-server.sh.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa


def _canonical(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, Decimal | float):
        return format(value, "f")
    return str(value)


def table_digests(url: str) -> list[tuple[str, int, str]]:
    engine = sa.create_engine(url)
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        out = []
        with engine.connect() as conn:
            for name in sorted(meta.tables):
                table = meta.tables[name]
                order = list(table.primary_key.columns) or list(table.columns)
                h = hashlib.sha256()
                count = 0
                for row in conn.execution_options(stream_results=True).execute(sa.select(table).order_by(*order)):
                    h.update(("\t".join(_canonical(v) for v in row) + "\n").encode())
                    count += 1
                out.append((name, count, h.hexdigest()))
        return out
    finally:
        engine.dispose()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: digest.py DATABASE_URL", file=sys.stderr)
        return 2
    lines = [f"{name} {count} {digest}" for name, count, digest in table_digests(argv[1])]
    total = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    print("\n".join([*lines, f"* total {total}"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
