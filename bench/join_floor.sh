#!/usr/bin/env bash
# The floor under the join rate of bench/channels.sh: the same load
# generator (../shared/bench/phoenix-load.cjs, its connect phase only)
# against crates/channels/examples/join_floor.rs, a WebSocket server on
# nodus-channels' HTTP stack that only answers each phx_join with a
# canned reply. No server can join faster than this under that load on
# this machine. Then the same connect phase against the nodus demo
# endpoint (`nodus start --http-port`), taking turns with the floor.
# Usage: bench/join_floor.sh [N...]   (default 1000 10000 19000)
set -euo pipefail
cd "$(dirname "$0")/.."
NS=("$@")
[ ${#NS[@]} -gt 0 ] || NS=(1000 10000 19000)
LOAD=../shared/bench/phoenix-load.cjs
[ -f "$LOAD" ] || { echo "bench/join_floor.sh: $LOAD is missing" >&2; exit 1; }
[ -d tests/js/node_modules/ws ] || (cd tests/js && npm ci --no-audit --no-fund)
DIR=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT
cargo build --release -q -p nodus-cli -p nodus-channels --example join_floor
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
EPMD=$(port)
export ERL_EPMD_PORT=$EPMD HOME=$DIR PHX_JS_DIR=$PWD/tests/js
target/release/nodus epmd --port "$EPMD" 2>/dev/null & PIDS+=($!)
# connect N SERVER_PID PORT LABEL: the generator's connect line, then stop it.
connect() {
  node "$LOAD" --url "ws://127.0.0.1:$3/socket" --n "$1" --procs 2 --beam-pids "$2" --label "$4" > "$DIR/load.out" 2>&1 & local L=$!
  for _ in $(seq 900); do grep -q " joined " "$DIR/load.out" && break; sleep 0.2; done
  pkill -P "$L" 2>/dev/null || true; kill "$L" 2>/dev/null || true; wait "$L" 2>/dev/null || true
  grep " joined " "$DIR/load.out" || { cat "$DIR/load.out"; exit 1; }
}
ROWS=()
for N in "${NS[@]}"; do
  for server in floor nodus; do
    P=$(port)
    if [ "$server" = floor ]; then
      target/release/examples/join_floor "$P" > "$DIR/srv.out" 2>&1 & S=$!
    else
      target/release/nodus start --name jf1@127.0.0.1 --cookie bench --http-port "$P" > "$DIR/srv.out" 2>&1 & S=$!
    fi
    PIDS+=($S)
    for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$P") 2>/dev/null && break; sleep 0.1; done
    line=$(connect "$N" "$S" "$P" "$server $N")
    echo "$line"
    rate=$(sed -E 's/.* = ([0-9.]+)\/s;.*/\1/' <<< "$line")
    kb=$(sed -E 's/.*kB = \[([0-9.]+)\] kB\/conn.*/\1/' <<< "$line")
    cpu=$(sed -E 's/.*beam CPU \[([0-9.]+)\]%.*/\1/' <<< "$line")
    ccpu=$(sed -E 's/.*client CPU ([0-9.]+)%.*/\1/' <<< "$line")
    ROWS+=("| $N | $server | $rate /s | $cpu % | $ccpu % | $kb kB |")
    kill "$S"; wait "$S" 2>/dev/null || true
    sleep 1
  done
done
{
  echo
  echo "## Join rate against its floor (phoenix-load.cjs connect phase) ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -sr), node $(node --version))"
  echo
  echo "Command: \`bench/join_floor.sh ${NS[*]}\`. \"floor\": \`crates/channels/examples/join_floor.rs\` (axum + tungstenite as nodus-channels, same buffer sizes; answers each phx_join with a canned reply: no socket process, no channel, no subscription); \"nodus\": the demo endpoint of \`nodus start --http-port\`. Both on one thread; the generator (2 worker processes, 100 handshakes in flight each) shares the 2 cores. Server CPU and client CPU over the connect phase; memory is the server's RSS growth per connection."
  echo
  echo "| N | server | joins | server CPU | client CPU | server RSS per connection |"
  echo "|---:|---|---:|---:|---:|---:|"
  printf '%s\n' "${ROWS[@]}"
} | tee -a bench/RESULTS.md
