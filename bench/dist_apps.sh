#!/usr/bin/env bash
# Failover and takeover times of a distributed application, nodus-only
# and BEAM-only side by side in one run (bench/dist_apps.py), appended
# to bench/RESULTS.md.   bench/dist_apps.sh [ROUNDS] [TIMEOUT_MS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release -p nodus-cli --bins --examples
rounds=${1:-10}
timeout=${2:-500}
out=$(python3 bench/dist_apps.py target/release "$rounds" "$timeout")
echo "$out"
{
  echo
  echo "## Distributed applications: failover and takeover ($(date -u +%Y-%m-%d))"
  echo
  echo "Command: \`bench/dist_apps.sh $rounds $timeout\`; machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); BEAM: Erlang/OTP $(erl -noshell -eval 'io:format("~s",[erlang:system_info(otp_release)]),halt().'). Two nodes, \`[{demo, $timeout, [a, b]}]\`, nodus pair (the \`dist_app\` example) and BEAM pair (\`erl\`, tests/erl/nodus_demo.erl) in the same run; times from the test's clock to the line the node prints when \`start\` (or \`stop\`) has returned."
  echo
  echo "$out" | tail -n +2
} >> bench/RESULTS.md
