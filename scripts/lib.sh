# Shared by the scripts: paths, the build cache, and small helpers. Source it; do not run it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Cargo's build cache lives outside the clone so a fresh clone (CI) builds warm.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fila/target}"
# Where the built site (wasm, js, css, assets) goes; the server serves it from here.
SITE_ROOT="${LEPTOS_SITE_ROOT:-$ROOT/target/site}"
TOOLS="$ROOT/.tools"
WASM_BINDGEN_VERSION="0.2.130"   # must equal the wasm-bindgen version in Cargo.lock
BINARYEN_VERSION="123.0.0"       # npm binaryen; Debian's binaryen 108 breaks hydration
export PATH="$HOME/.cargo/bin:$TOOLS/node_modules/.bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[31merror: %s\033[0m\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# Run as root or through sudo, whichever this machine has.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif have sudo; then sudo "$@"; else die "need root for: $*"; fi
}
