#!/usr/bin/env bash
# Events API load with wrk (batches of 100 events, see events.lua) against a real `wafa serve`
# on a fresh SQLite file; then waits until every stored batch is processed and reports the
# end-to-end processing rate.
#
#   bench/wrk/events.sh [seconds] [connections] [delay_ms]     (defaults: 20 8 35)
#
# Needs wrk (Debian: apt-get install wrk) and sqlite3, and a release build (cargo build --release).
set -euo pipefail
secs=${1:-20}; conns=${2:-8}; delay=${3:-35}
here=$(cd "$(dirname "$0")" && pwd)
bin=${WAFA_BIN:-${CARGO_TARGET_DIR:-$here/../../target}/release/wafa}
dir=$(mktemp -d /tmp/wafa-wrk.XXXXXX)
db=$dir/wrk.db
port=${WAFA_WRK_PORT:-18089}
WAFA_LOG=error WAFA_ADMIN_EMAIL=bench@wafa.local WAFA_ADMIN_PASSWORD=bench-password-not-secret \
  "$bin" serve --bind 127.0.0.1:$port --database-url "$db" --predict-every-minutes 0 >"$dir/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$dir"' EXIT
until curl -sf http://127.0.0.1:$port/healthz >/dev/null; do sleep 0.2; done
key=$("$bin" source add --platform events --database-url "$db" | sed -n 's/^write key (shown once): //p')
start=$(date +%s.%N)
WAFA_WRITE_KEY=$key WAFA_WRK_DELAY_MS=$delay wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$here/events.lua" http://127.0.0.1:$port \
  | grep -E "^(events accepted|request latency|Requests/sec)"
while [ "$(sqlite3 "$db" "SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")" != 0 ]; do sleep 0.05; done
end=$(date +%s.%N)
read -r n failed <<<"$(sqlite3 -separator ' ' "$db" "SELECT COUNT(*), SUM(status = 'failed') FROM deliveries")"
events=$(sqlite3 "$db" "SELECT COUNT(*) FROM track_events")
echo "processed: $n batches ($failed failed), $events events stored, all done $(echo "$end - $start" | bc) s after the start = $(echo "$events / ($end - $start)" | bc) events/s end to end"
