#!/usr/bin/env bash
# Restore a central database backup into a NEW, EMPTY database (never over the live one):
#   restore-server.sh BACKUP TARGET_URL
#   BACKUP  ruyi-….dump (PostgreSQL) or ruyi-….sqlite3 (SQLite), with its .sha256 beside it
#   TARGET  postgresql+psycopg://ruyi:…@host:5432/ruyi_restored (created empty: createdb -O ruyi ruyi_restored)
#           or sqlite:////var/lib/ruyi/ruyi.sqlite3 (must not exist)
# Checks the checksum, restores, then prints the restored database's digest; when BACKUP.digest exists the
# two are compared and the script fails on a difference. Then: point RUYI_DATABASE_URL at it, run
# `ruyi db upgrade`, start the service, and verify each terminal's ledger (verify_ledger.py).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${RUYI_PYTHON:-$here/../../.venv/bin/python}"
[ -x "$python" ] || python=/opt/ruyi/.venv/bin/python
backup="${1:?usage: restore-server.sh BACKUP TARGET_URL}"
target="${2:?usage: restore-server.sh BACKUP TARGET_URL}"
(cd "$(dirname "$backup")" && sha256sum --quiet -c "$(basename "$backup").sha256")

case "$backup" in
    *.dump)
        libpq="${target/+psycopg/}"
        pg_restore --no-owner --no-privileges --exit-on-error --single-transaction --dbname="$libpq" "$backup"
        ;;
    *.sqlite3)
        path="${target#sqlite:///}"
        [ ! -e "$path" ] || { echo "$path exists: restore into a new file" >&2; exit 1; }
        umask 077
        cp "$backup" "$path.part"
        [ "$(sqlite3 "$path.part" 'PRAGMA integrity_check')" = "ok" ]
        mv "$path.part" "$path"
        ;;
    *) echo "unknown backup kind: $backup" >&2; exit 2 ;;
esac
"$python" "$here/digest.py" "$target" > "$backup.restored-digest"
if [ -f "$backup.digest" ]; then
    if diff -u "$backup.digest" "$backup.restored-digest"; then
        echo "restored: row counts and content digests match the backup's"
    else
        echo "restored database differs from the digest taken at backup time" >&2
        exit 1
    fi
else
    cat "$backup.restored-digest"
fi
