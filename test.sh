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

# End-to-end tests with real third-party clients (e.g. @segment/analytics-node) against the
# binary cargo just built. They need Node.js and the npm registry (first run only).
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  if [ ! -d e2e/node_modules ]; then
    (cd e2e && npm ci --no-audit --no-fund --loglevel=error)
  fi
  cargo build --locked -p wafa --bin wafa
  (cd e2e && node --test)
  if [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
    e2e_note="End-to-end tests (Node.js) RAN, including the web console in headless Chromium (screenshots in e2e/artifacts/screenshots/)."
  else
    e2e_note="End-to-end tests (Node.js) RAN, but Chromium is not installed: the web console's browser tests were SKIPPED (apt-get install chromium)."
  fi
else
  if [ "${WAFA_REQUIRE_E2E:-0}" = "1" ]; then
    echo "Node.js and npm are required for the end-to-end tests (WAFA_REQUIRE_E2E=1)." >&2
    exit 1
  fi
  e2e_note="Node.js is not installed: the end-to-end tests were SKIPPED."
fi

echo "$pg_note"
echo "$e2e_note"
