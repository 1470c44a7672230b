#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, as root: install everything, build the lab,
# connect ikeclient to a real strongSwan gateway through a NAT, show both sides, disconnect.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m tests.lab.demo
