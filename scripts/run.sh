#!/usr/bin/env bash
# The one command: install what is missing, build (release), and run Fila in embedded mode
# on http://localhost:3000 with a SQLite file. Extra arguments go to `fila`.
source "$(dirname "$0")/lib.sh"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build.sh" --release
export LEPTOS_SITE_ROOT="$SITE_ROOT"
export DATABASE_URL="${DATABASE_URL:-sqlite://$ROOT/fila.db}"
say "Starting Fila (Ctrl-C stops it)"
exec "$CARGO_TARGET_DIR/release/fila" "$@"
