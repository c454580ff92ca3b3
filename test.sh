#!/usr/bin/env bash
# Runs every Wafa test: `cargo test` over the whole workspace. The server's tests run on
# SQLite always, and on PostgreSQL when it is reachable at $WAFA_TEST_POSTGRES_URL
# (default postgres://postgres@127.0.0.1:5432, user with rights to create databases).
# With WAFA_REQUIRE_POSTGRES=1 (as in CI) an unreachable PostgreSQL fails the run.
set -euo pipefail
cd "$(dirname "$0")"

pg_url="${WAFA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
hostport="${pg_url#*://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"
pg_host="${hostport%%:*}"; pg_port="${hostport##*:}"; [ "$pg_port" = "$pg_host" ] && pg_port=5432

if timeout 3 bash -c "exec 3<>/dev/tcp/$pg_host/$pg_port" 2>/dev/null; then
  pg_note="PostgreSQL at $pg_host:$pg_port: the PostgreSQL tests RAN."
else
  if [ "${WAFA_REQUIRE_POSTGRES:-0}" = "1" ]; then
    echo "PostgreSQL is required (WAFA_REQUIRE_POSTGRES=1) but nothing answers at $pg_host:$pg_port." >&2
    exit 1
  fi
  pg_note="PostgreSQL is NOT reachable at $pg_host:$pg_port: the PostgreSQL tests were SKIPPED (SQLite tests ran). Set WAFA_TEST_POSTGRES_URL to run them."
fi
echo "$pg_note"

cargo test --workspace --locked "$@"

echo "$pg_note"
