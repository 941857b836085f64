#!/usr/bin/env bash
# The one command that runs every test: formatting, lints, engine property tests, API
# integration tests against a real server and SQLite, distributed-mode tests against real
# MariaDB and Redis (several instances, killed processes, outages), and browser tests.
# `.ci/run` calls exactly this.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT

"$ROOT/scripts/setup.sh" --test

say "Services for the distributed-mode tests"
# They must be there: a missing service fails the run here, loudly, not as skipped tests.
if [ -z "${FILA_TEST_MYSQL:-}" ]; then
  port_open 127.0.0.1 3306 || die "MariaDB/MySQL is not listening on 127.0.0.1:3306 (root, no password); start it or set FILA_TEST_MYSQL=mysql://user:pass@host:port"
fi
if [ -z "${FILA_TEST_REDIS:-}" ]; then
  port_open 127.0.0.1 6379 || die "Redis is not listening on 127.0.0.1:6379; start it or set FILA_TEST_REDIS=redis://host:port"
fi
have redis-server || die "redis-server is not installed (the fault tests start their own): apt-get install redis-server"

say "Formatting"
cargo fmt --all --check || die "run 'cargo fmt --all'"

say "Lints"
cargo clippy -p app --features ssr --all-targets -- -D warnings
cargo clippy -p server --all-targets -- -D warnings
cargo clippy -p frontend -p frontend-phone --target wasm32-unknown-unknown -- -D warnings
cargo clippy -p loadtest --all-targets -- -D warnings
# Doc comments link what they name: a renamed or moved item must not leave a dead link.
RUSTDOCFLAGS="-D warnings" cargo doc -p app -p server -p loadtest --no-deps --quiet

say "Engine, protocol and API tests"
cargo test -p app --features ssr 2>&1 | tee -a "$LOG"
[ "${PIPESTATUS[0]}" = 0 ] || die "app tests failed"
cargo test -p server 2>&1 | tee -a "$LOG"
[ "${PIPESTATUS[0]}" = 0 ] || die "server tests failed"
cargo test -p loadtest 2>&1 | tee -a "$LOG"
[ "${PIPESTATUS[0]}" = 0 ] || die "load harness tests failed"

"$ROOT/scripts/build.sh"

say "Load harness smoke run (checks correctness at small N; speed is for docs/BENCHMARKS.md)"
cargo build -p loadtest
# Each watcher is two sockets on this machine (client and server); raise the soft limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 4096 2>/dev/null || true
# Two rounds, each with its own deployment; the grep checks the rounds' summary was printed.
OUT="$(mktemp)"; "$CARGO_TARGET_DIR/debug/fila-load" --fila "$CARGO_TARGET_DIR/debug/fila" join-burst --joins 300 --concurrency 16 --rounds 2 | tee "$OUT"; grep -q '^ratio fila/baseline joins/s over 2 rounds: median' "$OUT"; rm -f "$OUT"
# Fila's calls and the baseline's broadcasts taking turns (both servers up); the grep checks it.
OUT="$(mktemp)"; "$CARGO_TARGET_DIR/debug/fila-load" --fila "$CARGO_TARGET_DIR/debug/fila" fan-out --watchers 50 --calls 5 --interleave | tee "$OUT"; grep -q 'calls interleaved (fila, baseline, baseline, fila' "$OUT"; rm -f "$OUT"
R="$(mktemp -d)"; "$CARGO_TARGET_DIR/debug/fila-load" --fila "$CARGO_TARGET_DIR/debug/fila" fan-out --watchers 20 --calls 3 --record "$R/runs.jsonl"; "$CARGO_TARGET_DIR/debug/fila-load" chart --input "$R/runs.jsonl" --output "$R/fanout.svg"; grep -q '<polyline' "$R/fanout.svg"; rm -rf "$R"
# Distributed mode, three instances on this machine's MariaDB and Redis (own database and prefix).
DIST=(--mysql "${FILA_TEST_MYSQL:-mysql://root@127.0.0.1:3306}" --redis "${FILA_TEST_REDIS:-redis://127.0.0.1:6379}" --instances 3)
"$CARGO_TARGET_DIR/debug/fila-load" --fila "$CARGO_TARGET_DIR/debug/fila" "${DIST[@]}" join-burst --joins 300 --concurrency 16
"$CARGO_TARGET_DIR/debug/fila-load" --fila "$CARGO_TARGET_DIR/debug/fila" "${DIST[@]}" fan-out --watchers 60 --calls 5
# The path past 19,500 watchers at tiny N: client sockets in 2 client shard processes, the
# baseline over 3 processes; the run checks every position, the grep that the path was taken.
OUT="$(mktemp)"; "$CARGO_TARGET_DIR/debug/fila-load" --fila "$CARGO_TARGET_DIR/debug/fila" "${DIST[@]}" fan-out --watchers 60 --calls 5 --client-shards 2 | tee "$OUT"; grep -q '^clients: 2 client processes .* baseline: 3 server processes' "$OUT"; rm -f "$OUT"
# The other scenarios, small: memory, slow consumers, cross-instance, reconnect storm.
"$CARGO_TARGET_DIR/debug/fila-load" --fila "$CARGO_TARGET_DIR/debug/fila" memory --watchers 100 --hold-secs 0
OUT="$(mktemp)"; "$CARGO_TARGET_DIR/debug/fila-load" --fila "$CARGO_TARGET_DIR/debug/fila" slow-consumers --watchers 100 --calls 5 --interleave | tee "$OUT"; grep -q 'both up at once, calls interleaved' "$OUT"; rm -f "$OUT"
"$CARGO_TARGET_DIR/debug/fila-load" --fila "$CARGO_TARGET_DIR/debug/fila" "${DIST[@]}" memory --watchers 60 --hold-secs 0
"$CARGO_TARGET_DIR/debug/fila-load" --fila "$CARGO_TARGET_DIR/debug/fila" "${DIST[@]}" slow-consumers --watchers 60 --calls 5
"$CARGO_TARGET_DIR/debug/fila-load" --fila "$CARGO_TARGET_DIR/debug/fila" "${DIST[@]}" cross-instance --watchers 60 --calls 5
"$CARGO_TARGET_DIR/debug/fila-load" --fila "$CARGO_TARGET_DIR/debug/fila" "${DIST[@]}" reconnect-storm --watchers 100

say "Browser tests"
PORT="${FILA_E2E_PORT:-3210}"
E2E_DIR="$(mktemp -d)"
export FILA_E2E_OWNER_PASSWORD="e2e-owner-password"
LEPTOS_SITE_ROOT="$SITE_ROOT" DATABASE_URL="sqlite://$E2E_DIR/fila.db" FILA_ADDR="127.0.0.1:$PORT" \
  FILA_PUBLIC_URL="http://localhost:$PORT" FILA_DEMO_OWNER_PASSWORD="$FILA_E2E_OWNER_PASSWORD" \
  FILA_JOIN_RATE_PER_IP=100000 FILA_ACCESS_RECHECK_SECS=2 \
  RUST_LOG="${RUST_LOG:-warn}" "$CARGO_TARGET_DIR/debug/fila" > "$E2E_DIR/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null || true; rm -rf "$E2E_DIR" "$LOG"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$E2E_DIR/server.log"; die "the server did not start"; }
  sleep 0.2
done
set +e
(cd end2end && FILA_BASE_URL="http://localhost:$PORT" npx playwright test 2>&1) | tee -a "$LOG"
E2E_STATUS=${PIPESTATUS[0]}
set -e
if [ "$E2E_STATUS" != 0 ]; then
  # A panic's message comes before its backtrace, which alone can fill the last 50 lines.
  echo "--- server log: panics ---"; grep -n -m5 -A4 'panicked' "$E2E_DIR/server.log" || echo "(none)"
  echo "--- server log: last lines ---"; tail -50 "$E2E_DIR/server.log"
  die "browser tests failed"
fi

say "Phone page weight harness smoke run (debug build, nothing throttled: checks the harness, not the figures)"
# The real measurement is scripts/page-weight.sh (release build, throttled); see docs/BENCHMARKS.md.
OUT="$(mktemp)"
FILA_BASE_URL="http://127.0.0.1:$PORT" PERF_SMOKE=1 PERF_RUNS=1 node end2end/perf/page-weight.mjs > "$OUT" 2>&1 \
  || { cat "$OUT"; rm -f "$OUT"; die "the page weight harness failed"; }
tail -1 "$OUT"; rm -f "$OUT"

# One closing line for every runner above.
passed=$(grep -oE 'test result: ok\. [0-9]+ passed' "$LOG" | awk '{s+=$4} END {print s+0}')
e2e=$(grep -oE '^ *[0-9]+ passed' "$LOG" | awk '{s+=$1} END {print s+0}')
echo "summary: $((passed + e2e)) passed, 0 failed"
