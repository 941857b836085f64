#!/usr/bin/env bash
# Phone page weight and time to interactive (docs/BENCHMARKS.md, issue 5): build a release
# (server and size-optimised site), start it on 127.0.0.1 with a fresh SQLite database and the
# demo venue, measure the join and ticket pages with Debian's Chromium (end2end/perf/
# page-weight.mjs), and stop the server again, also on failure or Ctrl-C.
#
# Usage: scripts/page-weight.sh [--no-build]
#   FILA_PERF_PORT  port to listen on (default 3290)
#   PERF_RUNS       runs per page and condition (default 3)
# The site is built into $CARGO_TARGET_DIR/site-release (override with PAGE_WEIGHT_SITE_ROOT),
# not target/site, so a debug build of the site made meanwhile (scripts/test.sh) is not served.
# Not part of scripts/test.sh: the release build alone takes minutes.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

export LEPTOS_SITE_ROOT="${PAGE_WEIGHT_SITE_ROOT:-$CARGO_TARGET_DIR/site-release}"
if [ "${1:-}" != "--no-build" ]; then
  "$ROOT/scripts/build.sh" --release
fi
FILA="$CARGO_TARGET_DIR/release/fila"
[ -x "$FILA" ] || die "$FILA is missing: run without --no-build"
[ -f "$LEPTOS_SITE_ROOT/pkg/assets.txt" ] || die "no site in $LEPTOS_SITE_ROOT: run without --no-build"
PHONE_WASM="$(sed -n 's/^phone=//p' "$LEPTOS_SITE_ROOT/pkg/assets.txt")_bg.wasm"
have node || die "node is missing: run scripts/setup.sh --test"
[ -x /usr/bin/chromium ] || die "Chromium is missing: apt-get install chromium (or scripts/setup.sh --test)"
if [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ]; then
  say "Installing the browser-test packages (Playwright, using Debian's Chromium)"
  (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
fi

PORT="${FILA_PERF_PORT:-3290}"
port_open 127.0.0.1 "$PORT" && die "port $PORT is taken: set FILA_PERF_PORT"
DIR="$(mktemp -d)"
LEPTOS_SITE_ROOT="$LEPTOS_SITE_ROOT" DATABASE_URL="sqlite://$DIR/fila.db" FILA_ADDR="127.0.0.1:$PORT" \
  FILA_PUBLIC_URL="http://127.0.0.1:$PORT" FILA_DEMO_OWNER_PASSWORD="page-weight-owner-password" \
  FILA_JOIN_RATE_PER_IP=100000 RUST_LOG=warn "$FILA" > "$DIR/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DIR/server.log"; die "the server did not start"; }
  sleep 0.2
done

say "Built assets (bytes on disk: raw, .gz, .br)"
size() { if [ -f "$1" ]; then stat -c %s "$1"; else echo -; fi; }
for f in "$LEPTOS_SITE_ROOT"/pkg/*.wasm "$LEPTOS_SITE_ROOT"/pkg/*.js "$LEPTOS_SITE_ROOT"/pkg/*.css; do
  printf '  %-40s %9s %9s %9s\n' "$(basename "$f")" "$(size "$f")" "$(size "$f.gz")" "$(size "$f.br")"
done
say "Headers of /pkg/$PHONE_WASM (the phone's wasm) with Accept-Encoding: br"
curl -sS -o /dev/null -D - -H 'accept-encoding: br' "http://127.0.0.1:$PORT/pkg/$PHONE_WASM" \
  | grep -iE '^(HTTP|content-encoding|content-length|cache-control|etag|last-modified)' | sed 's/^/  /'

say "Measuring (Chromium, fresh context per run)"
FILA_BASE_URL="http://127.0.0.1:$PORT" node "$ROOT/end2end/perf/page-weight.mjs"
