#!/usr/bin/env bash
# Runs every check and test of nodus. Needs Rust, Erlang/OTP (`erl`,
# `erlc`), Elixir, Node.js and Chromium on PATH; `.ci/run` installs them
# on a fresh Debian machine (and the JS packages of tests/js with npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in erl erlc elixir cargo node chromium ip nft python3; do
  command -v "$tool" >/dev/null || { echo "test.sh: $tool is missing (apt-get install erlang-nox elixir chromium nftables iproute2; Node.js 20+)" >&2; exit 1; }
done
[ -d tests/js/node_modules/phoenix ] || (cd tests/js && npm ci --no-audit --no-fund)
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --release -- -D warnings
echo "== cargo doc (no warnings)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
echo "== cargo test"
cargo test --workspace --release
echo "== examples"
cargo run --quiet --release -p nodus --example gen_server
cargo run --quiet --release -p nodus --example supervisor_tree 2>/dev/null
echo "== fault suite (network namespaces, nodus and BEAM side by side)"
cargo build --quiet --release -p nodus --example fault_peer
python3 faults/suite.py
