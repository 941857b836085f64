#!/usr/bin/env bash
# Build the server binary and the site (hydration wasm + js + css + assets) into target/site.
# Usage: scripts/build.sh [--release]. The same layout `cargo leptos build` produces.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

PROFILE=debug
[ "${1:-}" = "--release" ] && PROFILE=release

if [ "$PROFILE" = release ]; then
  say "Building the server (release)"
  cargo build --release -p server --bin fila
  say "Building the browser app (wasm, size-optimised)"
  cargo build -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release
  WASM="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/frontend.wasm"
else
  say "Building the server (debug)"
  cargo build -p server --bin fila
  say "Building the browser app (wasm)"
  cargo build -p frontend --lib --target wasm32-unknown-unknown
  WASM="$CARGO_TARGET_DIR/wasm32-unknown-unknown/debug/frontend.wasm"
fi

PKG="$SITE_ROOT/pkg"
rm -rf "$PKG.tmp" && mkdir -p "$PKG.tmp"
wasm-bindgen --target web --no-typescript --out-dir "$PKG.tmp" --out-name fila "$WASM"
if [ "$PROFILE" = release ]; then
  have wasm-opt || die "wasm-opt missing: run scripts/setup.sh"
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$PKG.tmp/fila_bg.wasm" -o "$PKG.tmp/fila_bg.opt.wasm"
  mv "$PKG.tmp/fila_bg.opt.wasm" "$PKG.tmp/fila_bg.wasm"
fi
cp style/main.css "$PKG.tmp/fila.css"
rm -rf "$PKG" && mv "$PKG.tmp" "$PKG"
cp -r public/. "$SITE_ROOT/"

if [ "$PROFILE" = release ]; then
  # Served precompressed (the server picks .br or .gz by Accept-Encoding).
  for f in "$PKG"/*.wasm "$PKG"/*.js "$PKG"/*.css; do
    gzip -9 -k -f "$f"
    if have brotli; then brotli -q 11 -f -k "$f"; fi
  done
fi
say "Site built in $SITE_ROOT ($(du -sh "$PKG" | cut -f1) in pkg/)"
