#!/usr/bin/env bash
# Create the PostgreSQL role and database of the central service (run once, as root, on the database host):
#   deploy/postgres/setup.sh [DBNAME] [ROLE]
# Prints the generated password once; put it in RUYI_DATABASE_URL in /etc/ruyi/server.env. Idempotent: an
# existing role keeps its password (none is printed) and an existing database is left alone.
# PSQL may be set to reach another cluster (e.g. PSQL="psql -h 127.0.0.1 -p 5433 -U postgres").
set -euo pipefail
db="${1:-ruyi}"
role="${2:-ruyi}"
if [ -z "${PSQL:-}" ]; then
    if [ "$(id -u)" -eq 0 ]; then PSQL="runuser -u postgres -- psql"; else PSQL="psql"; fi
fi
q() { $PSQL -v ON_ERROR_STOP=1 -X -q -At "$@"; }

if [ "$(q -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname = '$role'")" != "1" ]; then
    password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
    q -d postgres -c "CREATE ROLE \"$role\" LOGIN PASSWORD '$password'"
    echo "role $role created; password (shown once): $password"
fi
if [ "$(q -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != "1" ]; then
    q -d postgres -c "CREATE DATABASE \"$db\" OWNER \"$role\" ENCODING 'UTF8' TEMPLATE template0"
    echo "database $db created (owner $role)"
fi
# Only the owner may create objects in the public schema (PostgreSQL < 15 lets everyone).
q -d "$db" -c "REVOKE CREATE ON SCHEMA public FROM PUBLIC; ALTER SCHEMA public OWNER TO \"$role\""
echo "ok: postgresql+psycopg://$role:PASSWORD@HOST:5432/$db"
