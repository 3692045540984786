#!/usr/bin/env bash
# Phoenix Channels: the load generator that measured a real Phoenix 1.7.24
# on Bandit (../shared/bench/phoenix-load.cjs: raw `ws` clients speaking V2
# JSON, joined to room:lobby, a trigger pushing "shout") against the demo
# endpoint of two `nodus start` nodes (room:* of nodus_channels::demo):
# memory per connection, join rate, time until the last of N clients has
# one broadcast, sustained deliveries/s and server CPU per delivery, for
# each N, with the broadcast made on the same node and on the other node.
# Phoenix cannot be installed on these machines: its figures are the
# reference ones of ../shared/bench/README.md (same load, same kind of
# machine), printed beside ours.
# Usage: bench/channels.sh [N...]   (default 1000 10000 19000)
set -euo pipefail
cd "$(dirname "$0")/.."
NS=("$@")
[ ${#NS[@]} -gt 0 ] || NS=(1000 10000 19000)
LOAD=../shared/bench/phoenix-load.cjs
[ -f "$LOAD" ] || { echo "bench/channels.sh: $LOAD is missing" >&2; exit 1; }
[ -d tests/js/node_modules/ws ] || (cd tests/js && npm ci --no-audit --no-fund)
DIR=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT
cargo build --release -q -p nodus-cli
RUSTC_V=$(rustc --version | cut -d' ' -f1-2)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
EPMD=$(port); P1=$(port); P2=$(port)
export ERL_EPMD_PORT=$EPMD HOME=$DIR PHX_JS_DIR=$PWD/tests/js
echo "[{kernel, [{sync_nodes_optional, ['cb1@127.0.0.1', 'cb2@127.0.0.1']}, {sync_nodes_timeout, 5000}]}]." > "$DIR/sys.config"
target/release/nodus epmd --port "$EPMD" 2>/dev/null & PIDS+=($!)
sleep 0.3
start_nodes() {
  target/release/nodus start --name cb1@127.0.0.1 --cookie bench --config "$DIR/sys.config" --http-port "$P1" > "$DIR/n1.out" 2>&1 & N1=$!; PIDS+=($N1)
  target/release/nodus start --name cb2@127.0.0.1 --cookie bench --config "$DIR/sys.config" --http-port "$P2" > "$DIR/n2.out" 2>&1 & N2=$!; PIDS+=($N2)
  for _ in $(seq 300); do grep -q booted "$DIR/n1.out" && grep -q booted "$DIR/n2.out" && break; sleep 0.1; done
  grep -q booted "$DIR/n1.out" || { cat "$DIR/n1.out"; exit 1; }
  sleep 1
}
stop_nodes() { kill "$N1" "$N2"; wait "$N1" "$N2" 2>/dev/null || true; }
ROWS=()
for N in "${NS[@]}"; do
  # Fresh nodes for each N: memory per connection from a clean start.
  start_nodes
  for where in local remote; do
    args=(--url "ws://127.0.0.1:$P1/socket" --n "$N" --procs 2 --beam-pids "$N1" --out "$DIR/$N-$where.json" --label "nodus $N $where")
    [ "$where" = remote ] && args+=(--trigger-url "ws://127.0.0.1:$P2/socket" --beam-pids "$N1,$N2")
    node "$LOAD" "${args[@]}" | tee "$DIR/$N-$where.log" | grep -v BENCH_RESULT
    ROWS+=("$(python3 - "$DIR/$N-$where.json" "$N" "$where" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); n, where = sys.argv[2], sys.argv[3]
kb = r["memory"]["beamRssKbPerConn"]; kb = kb[0] if isinstance(kb, list) else kb
cpu = r["sustained"]["beamCpuPct"]; cpu = sum(cpu) if isinstance(cpu, list) else cpu
d = r["sustained"]["deliveriesPerS"]
jc = r["connect"]["beamCpuPct"]; jc = jc[0] if isinstance(jc, list) else jc
join_us = jc / 100 * r["connect"]["wallS"] * 1e6 / max(int(n), 1)
us = cpu / 100 * 1e6 / d if d else float("nan")
mem = f"{kb:.1f} kB" if where == "local" else "(as local)"
print(f"| {int(n):,} | {where} | {mem} | {r['connect']['joinRatePerS']:,.0f} /s ({join_us:.0f} µs CPU each) | {r['fanout']['lastMsMedian']} ms | {d:,.0f} /s | {cpu:.0f} % | {us:.1f} µs |")
PY
)")
  done
  stop_nodes
done
{
  echo
  echo "## Phoenix Channels: nodus demo endpoint under phoenix-load.cjs ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -sr), $RUSTC_V, node $(node --version))"
  echo
  echo "Command: \`bench/channels.sh ${NS[*]}\`. Two \`nodus start --http-port\` nodes (one thread each, the CLI's runtime), clients on node 1; \"remote\": the trigger pushes to node 2, whose channel broadcasts through the PubSub to node 1. The load generator shares the 2 cores with the servers. Server CPU is of node 1 (local) or of both nodes (remote), over the sustained phase; CPU per delivery = server CPU time / deliveries. Memory per connection is measured in the local run (the remote run reuses the memory the first one left to the allocator)."
  echo
  echo "| N | broadcast | server RSS per connection | join rate (server CPU per join) | last client has the broadcast (median of 10) | sustained deliveries | server CPU | server CPU per delivery |"
  echo "|---:|---|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "Phoenix 1.7.24 on Bandit, same load on this kind of machine (../shared/bench/README.md, 2026-12-01; not this run): 30–33 kB per connection, joins 720–1,330 /s, last client 38–45 ms (1,000), 347–393 ms (10,000), 715–799 ms (19,000), 18,000–40,000 deliveries/s at about 40 µs of server CPU each. Aims: ≤ 1/5 of its memory per connection (6 kB), ≤ 1/5 of its CPU per delivery (8 µs), ≥ 5× its join rate."
} | tee -a bench/RESULTS.md
