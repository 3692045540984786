#!/usr/bin/env bash
# Runs every check and test of nodus. Needs Rust and Erlang/OTP (`erl`,
# `erlc`) on PATH; `.ci/run` installs Erlang on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in erl erlc elixir cargo; do
  command -v "$tool" >/dev/null || { echo "test.sh: $tool is missing (apt-get install erlang-nox elixir)" >&2; exit 1; }
done
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
