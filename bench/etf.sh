#!/usr/bin/env bash
# ETF decode/encode throughput, nodus against BEAM, on one corpus in one run.
# Usage: bench/etf.sh [TERMS] [ROUNDS]   (defaults 2000 terms, 5 rounds)
# Appends a table to bench/RESULTS.md and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
TERMS=${1:-2000}
ROUNDS=${2:-5}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT

cargo build --release -q -p nodus-term --example etf_bench
erlc -o "$DIR" tests/erl/nodus_corpus.erl
erl -noshell -pa "$DIR" -run nodus_corpus main gen "$DIR" 2 "$TERMS" >/dev/null
OUT=$( (erl -noshell -pa "$DIR" -run nodus_corpus main bench "$DIR" "$ROUNDS"; \
        target/release/examples/etf_bench "$DIR/etf.bin" "$ROUNDS") )
echo "$OUT" >&2

row() { # who what -> "MB/s terms/s"
  echo "$OUT" | awk -v w="$1" -v x="$2" '$1==w && $2==x { s=$6/1e6; printf "%.1f %.0f", $3*$5/1e6/s, $3*$4/s }'
}
read -r BD BDT <<<"$(row beam decode)"
read -r BE BET <<<"$(row beam encode)"
read -r ND NDT <<<"$(row nodus decode)"
read -r NZ NZT <<<"$(row nodus decode_zero_copy)"
read -r NE NET <<<"$(row nodus encode)"
BYTES=$(echo "$OUT" | awk '$1=="beam" && $2=="decode" {print $5}')
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a/b }'; }

TABLE=$(cat <<MD

### ETF codec — $(date -u +%Y-%m-%d) — \`bench/etf.sh $TERMS $ROUNDS\`
Machine: $(nproc) cores, ${CPU}; Erlang/OTP $(erl -noshell -eval 'io:format("~s", [erlang:system_info(otp_release)]), halt().'), $(rustc --version).
Corpus: $TERMS random terms from \`tests/erl/nodus_corpus.erl\` (seed 2) plus the fixed edge cases, $BYTES bytes of ETF; $ROUNDS timed rounds after one warm-up.

| operation | BEAM MB/s | BEAM terms/s | nodus MB/s | nodus terms/s | nodus / BEAM |
|---|---|---|---|---|---|
| decode (\`binary_to_term/1\` vs \`etf::decode\`, copies binaries) | $BD | $BDT | $ND | $NDT | $(ratio "$ND" "$BD") |
| decode (vs \`etf::decode_bytes\`, binaries share the input) | $BD | $BDT | $NZ | $NZT | $(ratio "$NZ" "$BD") |
| encode (\`term_to_binary/1\` vs \`etf::encode\`) | $BE | $BET | $NE | $NET | $(ratio "$NE" "$BE") |
MD
)
echo "$TABLE"
echo "$TABLE" >> bench/RESULTS.md
