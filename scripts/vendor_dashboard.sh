#!/usr/bin/env bash
# Copies the dashboard's third-party files from npm into rpc/dashboard/vendor/ (issue 21):
# uPlot (MIT), pinned by scripts/dashboard/package-lock.json, with its licence. The node
# serves them itself: nothing is fetched from a CDN at run time. Run it after changing the
# pinned version; the copied files are committed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
vendor="$root/rpc/dashboard/vendor"
(cd "$here/dashboard" && npm ci --no-audit --no-fund --loglevel=error)
mkdir -p "$vendor"
uplot="$here/dashboard/node_modules/uplot"
cp "$uplot/dist/uPlot.iife.min.js" "$vendor/uPlot.iife.min.js"
cp "$uplot/dist/uPlot.min.css" "$vendor/uPlot.min.css"
cp "$uplot/LICENSE" "$vendor/LICENSE.uPlot"
version="$(node -p "require('$uplot/package.json').version")"
echo "uPlot $version (npm uplot, MIT): uPlot.iife.min.js, uPlot.min.css, LICENSE.uPlot" > "$vendor/README"
echo "vendored uPlot $version into ${vendor#"$root/"}"
