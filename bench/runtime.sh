#!/usr/bin/env bash
# The process runtime, nodus against BEAM in one run: spawn rate and
# memory per idle process (1,000,000 processes waiting in receive), local
# send throughput (one sender, one receiver), local gen_server call round
# trip and calls/s, and the same call across two nodes. Appends a table to
# bench/RESULTS.md and prints it.
# Usage: [ROUNDS=3] bench/runtime.sh [PROCESSES]   (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
ROUNDS=${ROUNDS:-3}
DIR=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT
cargo build --release -q -p nodus --example runtime_bench -p nodus-cli
erlc -o "$DIR" bench/runtime_bench.erl
RUSTC_V=$(rustc --version | cut -d' ' -f1-2)
EPMD=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export ERL_EPMD_PORT=$EPMD HOME=$DIR ERL_CRASH_DUMP_SECONDS=0
target/release/nodus epmd --port "$EPMD" 2>/dev/null & PIDS+=($!)
sleep 0.5
# Each side ROUNDS times, taking turns (this VM's speed drifts by up to
# 2x within minutes, BEAM's as much as ours); every figure is the median
# of its rounds. Each BEAM round has a fresh server node.
for r in $(seq "$ROUNDS"); do
  target/release/examples/runtime_bench "$EPMD" "$N" >> "$DIR/nodus.out"
  NODUS_RUNTIME=current target/release/examples/runtime_bench "$EPMD" "$N" >> "$DIR/nodus1.out"
  erl -noshell -setcookie bench -pa "$DIR" -name "rtbe2r$r@127.0.0.1" -run runtime_bench server > "$DIR/srv$r.out" & SRV=$!; PIDS+=($SRV)
  for _ in $(seq 100); do grep -q ready "$DIR/srv$r.out" 2>/dev/null && break; sleep 0.1; done
  erl -noshell +P 2000000 -setcookie bench -pa "$DIR" -name rtbe1@127.0.0.1 -run runtime_bench main "$N" "rtbe2r$r@127.0.0.1" >> "$DIR/beam.out"
  kill "$SRV"; wait "$SRV" 2>/dev/null || true
done
# Every round's figures, for the reading.
for f in nodus nodus1 beam; do echo "rounds $f: $(grep '^result local_call_p50_us ' "$DIR/$f.out" | awk '{print $3}' | tr '\n' ' ')"; done >&2
val() { grep "^result $2 " "$DIR/$1.out" | awk '{print $3}' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
OTP_V=$(erl -noshell -eval 'io:format("~s", [erlang:system_info(otp_release)]), halt().')
{
  echo
  echo "## Runtime: nodus vs BEAM ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -sr), $RUSTC_V, OTP $OTP_V)"
  echo
  echo "Command: \`ROUNDS=$ROUNDS bench/runtime.sh $N\`. Each side ran $ROUNDS times, taking turns; medians. nodus on tokio's multi-thread runtime with 2 workers and on one thread (\`NODUS_RUNTIME=current\`, the runtime \`nodus start\` uses), BEAM with 2 schedulers; the cross-node call is between two nodes of one OS process for nodus, two erl nodes for BEAM, over loopback TCP."
  echo
  echo "| metric | nodus, 2 workers | nodus, 1 thread | BEAM | 2 workers / BEAM | 1 thread / BEAM |"
  echo "|---|---:|---:|---:|---:|---:|"
  for m in spawn_per_s bytes_per_idle_process local_send_per_s local_call_p50_us local_calls_per_s remote_call_p50_us remote_calls_per_s; do
    a=$(val nodus $m); a1=$(val nodus1 $m); b=$(val beam $m)
    r=$(python3 -c "print(f'{float($a)/float($b):.2f}')" 2>/dev/null || echo -)
    r1=$(python3 -c "print(f'{float($a1)/float($b):.2f}')" 2>/dev/null || echo -)
    echo "| $m | $a | $a1 | $b | $r | $r1 |"
  done
} | tee -a bench/RESULTS.md
