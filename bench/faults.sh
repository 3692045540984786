#!/usr/bin/env bash
# The fault suite (faults/suite.py) with its comparison table, nodus and
# BEAM side by side in one run, appended to bench/RESULTS.md. Needs root
# (network namespaces), nft, erl/erlc.
#   bench/faults.sh [--only partition,sigstop,sigkill,slow,garbage,descriptors,memory]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release -p nodus-cli
cargo build --quiet --release -p nodus --example fault_peer
exec python3 faults/suite.py --table bench/RESULTS.md "$@"
