#!/usr/bin/env bash
# Build dist/ikeclient.pyz: one file that runs ikeclient on a machine with only Python 3.11+.
# shiv bundles ikeclient and its dependencies (cryptography, python-pytun, ...) as wheels for
# this platform; on first run it unpacks them under ~/.shiv (or $SHIV_ROOT).
#   bash scripts/build-portable.sh && python3 dist/ikeclient.pyz --help
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x .venv/bin/shiv ]] || bash scripts/setup.sh
mkdir -p dist
.venv/bin/shiv --quiet -c ikeclient -o dist/ikeclient.pyz -p "/usr/bin/env python3" \
    --compressed --reproducible . >/dev/null
echo "built dist/ikeclient.pyz ($(du -h dist/ikeclient.pyz | cut -f1))"
