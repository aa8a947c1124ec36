#!/usr/bin/env bash
# Back up a terminal's ledger locally (online: SQLite's backup API takes a consistent copy while the terminal
# runs): backup-ledger.sh LEDGER [DIR]. Keeps RUYI_BACKUP_KEEP_DAYS (default 90) days. After the terminal's
# disk is replaced and the ledger restored from here, check it against the server: verify_ledger.py.
set -euo pipefail
ledger="${1:?usage: backup-ledger.sh LEDGER [DIR]}"
dir="${2:-${RUYI_BACKUP_DIR:-/var/backups/ruyi-terminal}}"
keep="${RUYI_BACKUP_KEEP_DAYS:-90}"
umask 077
mkdir -p "$dir"
out="$dir/ledger-$(date -u +%Y%m%d-%H%M%S).sqlite3"
sqlite3 "$ledger" ".timeout 30000" ".backup '$out.part'"
[ "$(sqlite3 "$out.part" 'PRAGMA integrity_check')" = "ok" ]
mv "$out.part" "$out"
(cd "$dir" && sha256sum "$(basename "$out")" > "$(basename "$out").sha256")
find "$dir" -maxdepth 1 -name 'ledger-*' -mtime "+$keep" -delete
echo "$out"
