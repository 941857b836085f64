#!/usr/bin/env bash
# Build the server binary and the site into target/site: two hydration bundles (the whole app,
# `frontend`, and the phone pages' own, `frontend-phone`), the stylesheet and the assets.
# Usage: scripts/build.sh [--release] [--site-only]
#   --site-only  build only the site (wasm bundles, stylesheet), not the server binary.
#
# Every file in pkg/ is named after a hash of its content and listed in pkg/assets.txt, which
# the server reads at startup: it links those names and lets browsers cache them for good.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

PROFILE=debug
SERVER=1
for arg in "$@"; do
  case "$arg" in
    --release) PROFILE=release ;;
    --site-only) SERVER=0 ;;
    *) die "unknown option $arg (usage: scripts/build.sh [--release] [--site-only])" ;;
  esac
done

if [ "$PROFILE" = release ]; then
  if [ "$SERVER" = 1 ]; then
    say "Building the server (release)"
    cargo build --release -p server --bin fila
  fi
  say "Building the browser apps (wasm, size-optimised)"
  cargo build -p frontend -p frontend-phone --lib --target wasm32-unknown-unknown --profile wasm-release
  WASM_DIR="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release"
else
  if [ "$SERVER" = 1 ]; then
    say "Building the server (debug)"
    cargo build -p server --bin fila
  fi
  say "Building the browser apps (wasm)"
  cargo build -p frontend -p frontend-phone --lib --target wasm32-unknown-unknown
  WASM_DIR="$CARGO_TARGET_DIR/wasm32-unknown-unknown/debug"
fi

PKG="$SITE_ROOT/pkg"
rm -rf "$PKG.tmp" && mkdir -p "$PKG.tmp"
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# bundle <crate> <name>: wasm-bindgen (and wasm-opt in release), then <name>.<hash>.js and
# <name>.<hash>_bg.wasm, the pair `HydrationScripts` links for output name <name>.<hash>.
bundle() {
  local crate="$1" name="$2" tmp="$PKG.tmp/$2.build"
  mkdir -p "$tmp"
  wasm-bindgen --target web --no-typescript --out-dir "$tmp" --out-name "$name" \
    "$WASM_DIR/${crate//-/_}.wasm"
  if [ "$PROFILE" = release ]; then
    have wasm-opt || die "wasm-opt missing: run scripts/setup.sh"
    wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
      --enable-mutable-globals --enable-reference-types --enable-multivalue \
      "$tmp/${name}_bg.wasm" -o "$tmp/${name}_bg.opt.wasm"
    mv "$tmp/${name}_bg.opt.wasm" "$tmp/${name}_bg.wasm"
  fi
  # The JS imports its snippets relatively (none today); keep them beside it if any appear.
  [ -d "$tmp/snippets" ] && cp -r "$tmp/snippets" "$PKG.tmp/"
  local hashed="$name.$(hash_of "$tmp/$name.js" "$tmp/${name}_bg.wasm")"
  mv "$tmp/$name.js" "$PKG.tmp/$hashed.js"
  mv "$tmp/${name}_bg.wasm" "$PKG.tmp/${hashed}_bg.wasm"
  rm -rf "$tmp"
  echo "$hashed"
}
APP="$(bundle frontend fila)"
PHONE="$(bundle frontend-phone fila-phone)"
CSS="fila.$(hash_of style/main.css).css"
cp style/main.css "$PKG.tmp/$CSS"
printf 'app=%s\nphone=%s\ncss=%s\n' "$APP" "$PHONE" "$CSS" > "$PKG.tmp/assets.txt"

rm -rf "$PKG" && mv "$PKG.tmp" "$PKG"
cp -r public/. "$SITE_ROOT/"

if [ "$PROFILE" = release ]; then
  # Served precompressed (the server picks .br or .gz by Accept-Encoding).
  for f in "$PKG"/*.wasm "$PKG"/*.js "$PKG"/*.css; do
    gzip -9 -k -f "$f"
    if have brotli; then brotli -q 11 -f -k "$f"; fi
  done
fi
say "Site built in $SITE_ROOT ($(du -sh "$PKG" | cut -f1) in pkg/: $APP, $PHONE, $CSS)"
