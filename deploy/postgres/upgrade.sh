#!/usr/bin/env bash
# Upgrade the central database to the installed release's schema, then restart the service:
#   deploy/postgres/upgrade.sh            (as root; reads /etc/ruyi/server.env)
# Order: backup first (a failed migration is restored from it), migrate (Alembic, in one transaction on
# PostgreSQL), then restart the server processes. Terminals keep selling throughout: they sync again when the
# server is back, and an older terminal keeps syncing while the server still supports its protocol.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ruyi="${RUYI_BIN:-/opt/ruyi/.venv/bin/ruyi}"
envfile="${RUYI_ENV_FILE:-/etc/ruyi/server.env}"
if [ -f "$envfile" ]; then set -a; . "$envfile"; set +a; fi

if [ "${RUYI_SKIP_BACKUP:-0}" != "1" ]; then
    "$here/../backup/backup-server.sh"
fi
if "$ruyi" db current >/dev/null; then
    echo "the database is already at the newest revision"
else
    "$ruyi" db upgrade
fi
"$ruyi" db current
if [ "${RUYI_NO_RESTART:-0}" != "1" ] && command -v systemctl >/dev/null; then
    systemctl restart ruyi-server.service
fi
