#!/usr/bin/env bash
# Distribution throughput and latency: nodus<->nodus, BEAM<->BEAM,
# nodus->BEAM and BEAM->nodus, with raw loopback TCP as the ceiling, in one
# run on one machine. Appends a table to bench/RESULTS.md and prints it.
# Every pair runs ROUNDS times (default 3), the rounds interleaved, and the
# table gives each metric's median over the rounds (the 2-core machines
# this runs on vary by +-20% from one run to the next).
# Usage: bench/dist.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT

cargo build --release -q -p nodus --example dist_bench --example raw_tcp -p nodus-cli
erlc -o "$DIR" bench/dist_bench.erl bench/dist_bench_srv.erl
RUSTC_V=$(rustc --version)
OTP_V=$(erl -noshell -eval 'io:format("~s", [erlang:system_info(otp_release)]), halt().')
EPMD=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export ERL_EPMD_PORT=$EPMD HOME=$DIR ERL_CRASH_DUMP_SECONDS=0
target/release/nodus epmd --port "$EPMD" 2>/dev/null & PIDS+=($!)
sleep 0.5
BENCH=target/release/examples/dist_bench
ERL="erl -noshell -setcookie bench -pa $DIR"

# Servers: nodus (tokio's default multi-thread runtime with 2 workers, as
# BEAM has 2 schedulers here), nodus on a one-thread runtime, and BEAM.
$BENCH server nsrv@127.0.0.1 bench "$EPMD" > "$DIR/nsrv.out" & PIDS+=($!)
NODUS_RUNTIME=current $BENCH server nsrv1@127.0.0.1 bench "$EPMD" > "$DIR/nsrv1.out" & PIDS+=($!)
$ERL -name esrv@127.0.0.1 -run dist_bench server > "$DIR/esrv.out" & PIDS+=($!)
for f in nsrv nsrv1 esrv; do
  for _ in $(seq 100); do grep -q ready "$DIR/$f.out" 2>/dev/null && break; sleep 0.1; done
done

run_nodus() { $BENCH client "ncli$1@127.0.0.1" bench "$EPMD" "$2"; }
run_nodus1() { NODUS_RUNTIME=current $BENCH client "ncli$1@127.0.0.1" bench "$EPMD" "$2"; }
run_erl() { $ERL -name "ecli$1@127.0.0.1" -run dist_bench client "$2"; }
ROUNDS=${1:-3}
for r in $(seq "$ROUNDS"); do
  run_nodus "1r$r" nsrv@127.0.0.1 >> "$DIR/nn.txt"
  run_nodus1 "5r$r" nsrv1@127.0.0.1 >> "$DIR/n1.txt"
  run_erl "2r$r" esrv@127.0.0.1 >> "$DIR/ee.txt"
  run_nodus "3r$r" esrv@127.0.0.1 >> "$DIR/ne.txt"
  run_erl "4r$r" nsrv@127.0.0.1 >> "$DIR/en.txt"
  target/release/examples/raw_tcp >> "$DIR/raw.txt"
done

# The median over the rounds of one metric in one file.
get() {
  awk -v m="$2" '$1=="result" && $2==m {print $3}' "$DIR/$1.txt" | sort -g |
    awk '{v[NR]=$1} END {if (NR) print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'
}
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
row() { # label metric
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$(get nn "$2")" "$(get n1 "$2")" "$(get ee "$2")" "$(get ne "$2")" "$(get en "$2")" "${3:-}"
}
TABLE=$(cat <<MD

### Distribution — $(date -u +%Y-%m-%d) — \`bench/dist.sh\`
Machine: $(nproc) cores, ${CPU}; Erlang/OTP ${OTP_V}, ${RUSTC_V}. All nodes on 127.0.0.1; nodus nodes on tokio's multi-thread runtime with 2 workers, and in the 1-thread column on a current-thread runtime (\`NODUS_RUNTIME=current\`); one client process and one server process per pair; medians of ${ROUNDS} interleaved rounds; 200,000 small messages (\`{hello, 42}\`), 50,000 1 KiB and 200 1 MiB binaries one way (timed until the sink confirms the count), 5,000 ping-pongs and 5,000 \`gen_server\` calls, each after 1,000 untimed ones (raw TCP too).

| metric | nodus→nodus | nodus→nodus, 1 thread | BEAM→BEAM | nodus→BEAM | BEAM→nodus | raw TCP |
|---|---|---|---|---|---|---|
$(row "small messages (msgs/s)" small_msgs_per_s)
$(row "1 KiB binaries (MB/s)" 1KiB_MB_per_s)
$(row "1 MiB binaries (MB/s)" 1MiB_MB_per_s "$(get raw bulk_MB_per_s) (bulk)")
$(row "ping-pong p50 (µs)" rtt_p50_us "$(get raw rtt_p50_us)")
$(row "ping-pong p99 (µs)" rtt_p99_us "$(get raw rtt_p99_us)")
$(row "call p50 (µs)" call_p50_us)
$(row "call p99 (µs)" call_p99_us)
MD
)
echo "$TABLE"
echo "$TABLE" >> bench/RESULTS.md
