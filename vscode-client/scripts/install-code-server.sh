#!/usr/bin/env bash
# Install code-server from npm for the end-to-end test (test/e2e/run.mjs), with the workarounds a
# machine that reaches only the npm, PyPI and Debian registries needs. Idempotent: a second run
# with the same version returns at once.
#
#   vscode-client/scripts/install-code-server.sh [PREFIX]
#
# PREFIX defaults to $ENVLS_CODE_SERVER_PREFIX, else ~/.cache/envls-dev/code-server-VERSION: outside the
# checkout, so that a fresh clone (CI) on the same machine finds it. The end-to-end test looks there too.
#
# - code-server 4.100.3 (VS Code 1.100.3) is the newest release whose engines allow Node 20;
#   4.103-4.117 need Node 22, later ones Node 24. CODE_SERVER_VERSION picks another.
# - As root, code-server's postinstall refuses to run without npm_config_unsafe_perm=true.
# - node-pty's postinstall runs `npx node-gyp`; an ~/.npmrc with `yes=false` cancels it unless
#   npm_config_yes=true.
# - @vscode/ripgrep's postinstall downloads rg from github.com. Its download cache is seeded with
#   the system's rg (Debian: apt-get install ripgrep), so nothing is fetched from GitHub.
# - argon2 and kerberos fall back to building from source when their GitHub prebuilds are out of
#   reach: that needs gcc, g++, make, python3 and (for kerberos) libkrb5-dev.
set -euo pipefail

version=${CODE_SERVER_VERSION:-4.100.3}
prefix=${1:-${ENVLS_CODE_SERVER_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/envls-dev/code-server-$version}}
# @vscode/ripgrep as pinned by this code-server, and the asset name its postinstall looks for.
rg_pkg_version=${RIPGREP_PKG_VERSION:-1.15.11}
rg_asset_version=${RIPGREP_ASSET_VERSION:-v13.0.0-10}

bin=$prefix/node_modules/.bin/code-server
# --config: without it, code-server writes ~/.config/code-server/config.yaml on first run.
if [ -x "$bin" ] && "$bin" --config "$prefix/config.yaml" --version 2>/dev/null | grep -q "^$version "; then
  echo "code-server $version already installed in $prefix"
  exit 0
fi

rg=$(command -v rg || true)
if [ -z "$rg" ]; then
  echo "install-code-server: ripgrep (rg) is needed to seed @vscode/ripgrep's download; apt-get install ripgrep" >&2
  exit 1
fi
case "$(uname -m)" in
  x86_64) rg_target=x86_64-unknown-linux-musl ;;
  aarch64) rg_target=aarch64-unknown-linux-musl ;;
  *) echo "install-code-server: no ripgrep seed for $(uname -m)" >&2; exit 1 ;;
esac
tmp=${TMPDIR:-/tmp}
cache=$tmp/vscode-ripgrep-cache-$rg_pkg_version
asset=$cache/ripgrep-$rg_asset_version-$rg_target.tar.gz
if [ ! -s "$asset" ]; then
  seed=$(mktemp -d "$tmp/rgseed-XXXX")
  cp "$rg" "$seed/rg"
  mkdir -p "$cache"
  tar czf "$asset" -C "$seed" rg
  rm -rf "$seed"
fi

mkdir -p "$prefix"
started=$(date +%s)
npm_config_unsafe_perm=true npm_config_yes=true npm_config_audit=false npm_config_fund=false \
  npm install --prefix "$prefix" --no-save --foreground-scripts "code-server@$version" > "$prefix/install.log" 2>&1 || {
    echo "install-code-server: npm install failed; the last lines of $prefix/install.log:" >&2
    tail -n 30 "$prefix/install.log" >&2
    exit 1
  }
"$bin" --config "$prefix/config.yaml" --version
echo "code-server $version installed in $prefix in $(( $(date +%s) - started )) s"
