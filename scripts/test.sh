#!/usr/bin/env bash
# Full check: setup (packages + venv + .venv-lowest), ruff lint and format check, mypy --strict,
# the unit and sans-I/O suites with every runtime dependency at its declared floor
# (.venv-lowest), then pytest (all tests, interop included; as root they run, otherwise the lab
# fixtures skip them) with the newest versions.
# Every step runs; the exit status is non-zero if any failed.  The last output is pytest's
# full-suite summary line: keep every other step before it.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --lowest || { echo "setup failed" >&2; exit 1; }

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
# Lowest versions: the floors in pyproject.toml are tested, not guessed (~20 s).
step .venv-lowest/bin/python -m pytest -q -p no:cacheprovider \
    tests/unit tests/ike tests/esp tests/crypto
step "$VENV/python" -m pytest
exit $status
