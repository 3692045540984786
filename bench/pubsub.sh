#!/usr/bin/env bash
# PubSub, nodus against BEAM in one run: one broadcast to FANOUT local
# subscribers (until the last has it), sustained deliveries/s (MSGS
# broadcasts to SUBS subscribers) on one node and with the subscribers on
# another node, and memory per subscription. The BEAM side is
# Phoenix.PubSub's PG2 path written out in bench/pubsub_bench.exs (pg +
# Registry.dispatch). Appends a table to bench/RESULTS.md and prints it.
# Usage: [ROUNDS=3] bench/pubsub.sh [FANOUT] [SUBS] [MSGS]   (default 100000 1000 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
FANOUT=${1:-100000}
SUBS=${2:-1000}
MSGS=${3:-1000}
ROUNDS=${ROUNDS:-3}
DIR=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT
cargo build --release -q -p nodus --example pubsub_bench -p nodus-cli
RUSTC_V=$(rustc --version | cut -d' ' -f1-2)
EPMD=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export ERL_EPMD_PORT=$EPMD HOME=$DIR ERL_CRASH_DUMP_SECONDS=0
target/release/nodus epmd --port "$EPMD" 2>/dev/null & PIDS+=($!)
sleep 0.5
# Each side ROUNDS times, taking turns (this VM's speed drifts over a
# minute); every figure is the median of its rounds. Each BEAM round has
# a fresh server node (a round's subscribers stay subscribed on it).
for r in $(seq "$ROUNDS"); do
  target/release/examples/pubsub_bench "$EPMD" "$FANOUT" "$SUBS" "$MSGS" >> "$DIR/nodus.out"
  elixir --name "psbe2r$r@127.0.0.1" --cookie bench bench/pubsub_bench.exs server > "$DIR/srv$r.out" & SRV=$!; PIDS+=($SRV)
  for _ in $(seq 200); do grep -q ready "$DIR/srv$r.out" 2>/dev/null && break; sleep 0.1; done
  elixir --erl "+P 2000000" --name psbe1@127.0.0.1 --cookie bench bench/pubsub_bench.exs main "$FANOUT" "$SUBS" "$MSGS" "psbe2r$r@127.0.0.1" >> "$DIR/beam.out"
  kill "$SRV"; wait "$SRV" 2>/dev/null || true
done
for m in local_deliveries_per_s remote_deliveries_per_s; do
  for f in nodus beam; do echo "rounds $f $m: $(grep "^result $m " "$DIR/$f.out" | awk '{print $3}' | tr '\n' ' ')"; done
done >&2
val() { grep "^result $2 " "$DIR/$1.out" | awk '{print $3}' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
OTP_V=$(erl -noshell -eval 'io:format("~s", [erlang:system_info(otp_release)]), halt().')
EX_V=$(elixir --version | tail -1)
{
  echo
  echo "## PubSub: nodus vs BEAM ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -sr), $RUSTC_V, OTP $OTP_V, $EX_V)"
  echo
  echo "Command: \`ROUNDS=$ROUNDS bench/pubsub.sh $FANOUT $SUBS $MSGS\`. nodus on tokio's multi-thread runtime with 2 workers, BEAM with 2 schedulers; the remote case is two nodes of one OS process for nodus, two elixir nodes for BEAM, over loopback TCP. A delivery is one message in one subscriber's mailbox, counted by the subscriber. Each side ran $ROUNDS times, taking turns; medians."
  echo
  echo "| metric | nodus | BEAM | nodus / BEAM |"
  echo "|---|---:|---:|---:|"
  for m in fanout_${FANOUT}_ms local_deliveries_per_s remote_deliveries_per_s bytes_per_subscription; do
    a=$(val nodus $m); b=$(val beam $m)
    r=$(python3 -c "print(f'{float($a)/float($b):.2f}')" 2>/dev/null || echo -)
    echo "| $m | $a | $b | $r |"
  done
} | tee -a bench/RESULTS.md
