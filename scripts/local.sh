#!/usr/bin/env bash
# Runs the ledger on this machine with its defaults: installs the pinned
# nats-server into .venv if missing, builds the release binary, starts a
# local nats-server (JetStream, fsync before every ack) in ./data, loads the
# demo federation of notice 004 and prints where to look.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

NATS_SERVER_BIN="$(scripts/install-nats.sh | tail -n 1)"
export NATS_SERVER_BIN
cargo build --release --locked --bin ledger
# Where cargo put it: ./target unless CARGO_TARGET_DIR says elsewhere.
exec "${CARGO_TARGET_DIR:-target}/release/ledger" local --data "${LEDGER_DATA:-data}" "$@"
