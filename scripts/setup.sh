#!/usr/bin/env bash
# Prepare a Debian 12 machine (as root) for ikeclient development and the interop lab:
#   - system packages: strongSwan (charon-systemd + swanctl + extra plugins), iproute2, nftables,
#     ping, iperf3, tshark (decrypting lab captures with --keylog), pipx (the pipx install test),
#     and what is needed to build the venv (python3-venv, python3-dev, gcc);
#   - the project venv (.venv) with `pip install -e '.[dev]'`;
#   - with --lowest, also .venv-lowest: the same with every runtime dependency at the floor
#     pyproject.toml declares (constraints from scripts/lowest_constraints.py), the dev extras
#     at whatever pip picks.  scripts/test.sh runs the unit and sans-I/O suites there.
# Idempotent: apt-get is skipped when everything is already present, pip when pyproject.toml
# has not changed since the last successful run.  Non-interactive (CI=true friendly).
set -euo pipefail

LOWEST=0
for arg in "$@"; do
    case $arg in
        --lowest) LOWEST=1 ;;
        *) printf '[setup] unknown option: %s (usage: setup.sh [--lowest])\n' "$arg" >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")/.."
REPO=$(pwd)
PYTHON=${PYTHON:-python3}
VENV="$REPO/.venv"

log() { printf '[setup] %s\n' "$*"; }

PACKAGES=(
    charon-systemd            # /usr/sbin/charon-systemd: no pid file, no starter/init script needed
    strongswan-swanctl        # swanctl (vici client)
    libcharon-extra-plugins   # kernel-libipsec (userspace ESP on a TUN), eap-*
    libcharon-extauth-plugins # xauth-generic
    libstrongswan-standard-plugins
    strongswan-pki
    iproute2
    nftables
    iputils-ping
    iperf3
    sudo                      # ikeclient up as a normal user hands the tunnel part to sudo
    pipx                      # tests/interop/test_pipx.py: pipx install of the wheel
    tshark                    # tshark + dumpcap: lab captures (--keylog decryption, leaks)
    python3-venv
    python3-dev
    gcc
)

PLUGINDIR=/usr/lib/ipsec/plugins
have_everything() {
    local cmd
    for cmd in /usr/sbin/charon-systemd swanctl pki ip nft ping iperf3 tshark dumpcap gcc sudo pipx; do
        command -v "$cmd" >/dev/null 2>&1 || { log "missing: $cmd"; return 1; }
    done
    local plugin
    for plugin in kernel-libipsec xauth-generic gcm openssl; do
        [[ -e "$PLUGINDIR/libstrongswan-$plugin.so" ]] || { log "missing plugin: $plugin"; return 1; }
    done
    if [[ ! -x "$VENV/bin/python" ]]; then
        "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 || { log "missing: python3-venv"; return 1; }
        "$PYTHON" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
            || { log "missing: Python headers"; return 1; }
    fi
    return 0
}

if [[ $(id -u) -ne 0 ]]; then
    log "not root: skipping system packages (interop tests will be skipped)"
elif have_everything; then
    log "system packages already present"
else
    export DEBIAN_FRONTEND=noninteractive
    # Never let package installation start a system-wide charon/strongswan service.
    CREATED_POLICY=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        CREATED_POLICY=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    # wireshark-common would ask whether non-root users may capture: answer no, without asking.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    log "apt-get update"
    apt-get update -q >/dev/null
    log "apt-get install ${PACKAGES[*]}"
    apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" \
        | grep -E '^(Setting up|E:)' || true
    if [[ $CREATED_POLICY -eq 1 ]]; then
        rm -f /usr/sbin/policy-rc.d
        trap - EXIT
    fi
    have_everything || { log "packages still missing after install"; exit 1; }
fi

# A venv with the package installed editable: ensure_venv DIR WHAT STAMP [PIP ARGS...].
# Skipped when DIR's stamp equals STAMP and the package imports; otherwise pip runs (output in
# DIR/pip-install.log) with the given extra arguments, and the stamp is written.
ensure_venv() {
    local dir=$1 what=$2 want=$3
    shift 3
    local stamp="$dir/.ikeclient-setup-stamp"
    if [[ ! -x "$dir/bin/python" ]]; then
        log "creating $dir with $PYTHON"
        "$PYTHON" -m venv "$dir"
    fi
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && "$dir/bin/python" -c 'import ikeclient' 2>/dev/null; then
        log "$what up to date"
        return 0
    fi
    log "pip install $* -e '.[dev]' into $dir (output in $dir/pip-install.log)"
    if ! { "$dir/bin/python" -m pip install --upgrade pip &&
           "$dir/bin/python" -m pip install "$@" -e '.[dev]'; } >"$dir/pip-install.log" 2>&1; then
        tail -n 40 "$dir/pip-install.log"
        log "pip install into $dir failed"
        exit 1
    fi
    echo "$want" >"$stamp"
}

# The project venv; its stamp records the pyproject.toml it was built from.
WANT=$(sha256sum pyproject.toml | cut -d' ' -f1)
ensure_venv "$VENV" "venv" "$WANT"

# .venv-lowest: every runtime dependency at its floor.  The stamp holds the constraints too.
if [[ $LOWEST -eq 1 ]]; then
    LVENV="$REPO/.venv-lowest"
    CONSTRAINTS=$("$PYTHON" scripts/lowest_constraints.py) || { log "lowest_constraints.py failed"; exit 1; }
    LWANT=$(printf '%s\n%s\n' "$WANT" "$CONSTRAINTS" | sha256sum | cut -d' ' -f1)
    mkdir -p "$LVENV"
    printf '%s\n' "$CONSTRAINTS" >"$LVENV/constraints.txt.new"
    log "lowest versions: $(grep -v '^#' "$LVENV/constraints.txt.new" | tr '\n' ' ')"
    mv "$LVENV/constraints.txt.new" "$LVENV/constraints.txt"
    ensure_venv "$LVENV" "lowest-versions venv" "$LWANT" -c "$LVENV/constraints.txt"
fi
log "done"
