#!/usr/bin/env bash
# Back up the central database into $RUYI_BACKUP_DIR (default /var/backups/ruyi):
#   PostgreSQL (RUYI_DATABASE_URL postgresql…): pg_dump custom format, ruyi-YYYYmmdd-HHMMSS.dump
#   SQLite (no RUYI_DATABASE_URL: $RUYI_DATA_DIR/ruyi.sqlite3): SQLite's online backup, ruyi-….sqlite3
# Each backup gets FILE.sha256 and FILE.digest (row counts and a content digest per table, from digest.py) so a
# restore can be checked. Backups older than RUYI_BACKUP_KEEP_DAYS (default 35) are removed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${RUYI_PYTHON:-$(dirname "$(readlink -f "$0")")/../../.venv/bin/python}"
[ -x "$python" ] || python=/opt/ruyi/.venv/bin/python
dir="${RUYI_BACKUP_DIR:-/var/backups/ruyi}"
keep="${RUYI_BACKUP_KEEP_DAYS:-35}"
stamp="$(date -u +%Y%m%d-%H%M%S)"
umask 077
mkdir -p "$dir"
url="${RUYI_DATABASE_URL:-}"

case "$url" in
    postgresql*)
        libpq="${url/+psycopg/}"
        out="$dir/ruyi-$stamp.dump"
        pg_dump --format=custom --no-owner --no-privileges --file="$out.part" "$libpq"
        ;;
    ""|sqlite*)
        if [ -z "$url" ]; then db="${RUYI_DATA_DIR:-./data}/ruyi.sqlite3"; else db="${url#sqlite:///}"; fi
        out="$dir/ruyi-$stamp.sqlite3"
        sqlite3 "$db" ".timeout 30000" ".backup '$out.part'"
        [ "$(sqlite3 "$out.part" 'PRAGMA integrity_check')" = "ok" ]
        url="sqlite:///$(readlink -f "$db")"
        ;;
    *) echo "unsupported RUYI_DATABASE_URL" >&2; exit 2 ;;
esac
mv "$out.part" "$out"
(cd "$dir" && sha256sum "$(basename "$out")" > "$(basename "$out").sha256")
# The digest is of the live database just after the dump; rows written in between make it differ from the
# restored copy, so compare at a quiet hour (the timer runs at night) or compare the restore with digest.py of
# the dump restored elsewhere.
"$python" "$here/digest.py" "$url" > "$out.digest"
find "$dir" -maxdepth 1 -name 'ruyi-*' -mtime "+$keep" -delete
echo "$out"
