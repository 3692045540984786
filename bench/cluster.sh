#!/usr/bin/env bash
# Cluster formation time (default 4, 8, 16, 32, 48, 64, 100 nodes) and idle RSS, nodus vs BEAM.
# Usage: bench/cluster.sh [SIZES...]   (default: 4 8 16 32 48 64 100)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p nodus-cli
echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(uname -sr), $(erl -noshell -eval 'io:format("OTP ~s", [erlang:system_info(otp_release)]), halt().')"
python3 bench/cluster.py "$PWD/target/release/nodus" "$@"
