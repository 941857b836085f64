#!/usr/bin/env bash
# Install whatever is missing to build Fila (and, with --test, to run its browser tests).
# Idempotent: a second run only checks. Debian/Ubuntu.
source "$(dirname "$0")/lib.sh"

WANT_TEST=0
[ "${1:-}" = "--test" ] && WANT_TEST=1

apt_missing=()
need_pkg() { dpkg -s "$1" >/dev/null 2>&1 || apt_missing+=("$1"); }
if have dpkg; then
  need_pkg gcc; need_pkg pkg-config; need_pkg curl; need_pkg ca-certificates; need_pkg brotli
  have node || need_pkg nodejs
  have npm || need_pkg npm
  [ "$WANT_TEST" = 1 ] && { have chromium || need_pkg chromium; }
  # Distributed-mode tests: MariaDB and Redis to test against, and redis-server for the
  # fault tests' private Redis.
  [ "$WANT_TEST" = 1 ] && { have redis-server || need_pkg redis-server; }
  [ "$WANT_TEST" = 1 ] && { have mariadbd || have mysqld || need_pkg mariadb-server; }
  if [ "${#apt_missing[@]}" -gt 0 ]; then
    say "Installing Debian packages: ${apt_missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}"
  fi
fi

if ! have cargo; then
  say "Installing Rust (rustup)"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "Adding the wasm32 target"
  rustup target add wasm32-unknown-unknown
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  say "Installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 3 minutes, once)"
  # Without --locked: the CLI's own lock file names a crate version the index no longer has.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

if [ ! -x "$TOOLS/node_modules/.bin/wasm-opt" ]; then
  say "Installing wasm-opt (npm binaryen@$BINARYEN_VERSION)"
  mkdir -p "$TOOLS"
  (cd "$TOOLS" && [ -f package.json ] || echo '{"private":true}' > "$TOOLS/package.json")
  npm install --prefix "$TOOLS" --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION"
fi

if [ "$WANT_TEST" = 1 ] && [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ]; then
  say "Installing the browser-test packages (Playwright, using Debian's Chromium)"
  (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
fi
if [ "$WANT_TEST" = 1 ]; then
  # Start the services the distributed-mode tests use, if they are installed but stopped.
  # Tests point elsewhere with FILA_TEST_MYSQL / FILA_TEST_REDIS.
  if [ -z "${FILA_TEST_REDIS:-}" ] && ! port_open 127.0.0.1 6379 && have redis-server; then
    say "Starting Redis on 127.0.0.1:6379"
    as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
  fi
  if [ -z "${FILA_TEST_MYSQL:-}" ] && ! port_open 127.0.0.1 3306; then
    say "Starting MariaDB"
    as_root service mariadb start >/dev/null 2>&1 \
      || as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
    for _ in $(seq 1 50); do port_open 127.0.0.1 3306 && break; sleep 0.2; done
  fi
fi
say "Setup complete"
