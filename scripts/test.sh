#!/usr/bin/env bash
# Full check: setup (packages + venv), ruff lint and format check, mypy --strict, pytest (all
# tests, interop included; as root they run, otherwise the lab fixtures skip them).
# Every step runs; the exit status is non-zero if any failed.  The last output is pytest's.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || { echo "setup failed" >&2; exit 1; }

VENV=.venv/bin
DIRS=()
for d in ikeclient tests bench; do
    [[ -d $d ]] && DIRS+=("$d")
done

status=0
step() {
    echo "==> $*"
    if ! "$@"; then
        echo "==> FAILED: $*" >&2
        status=1
    fi
}

step "$VENV/ruff" check "${DIRS[@]}"
step "$VENV/ruff" format --check "${DIRS[@]}"
step "$VENV/mypy" --strict ikeclient
step "$VENV/python" -m pytest
exit $status
