#!/usr/bin/env bash
# Warm start of `dumplens serve`: time from launch to a healthy /healthz, with the cluster in the
# data directory reused (the first run creates it and is not counted).
#   bench/serve_start.sh [RUNS]        (builds the release binary first)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
./dev setup
cargo build --release --quiet
data=$(mktemp -d /tmp/dumplens-bench-XXXXXX)
chmod 755 "$data"
trap 'rm -rf "$data"' EXIT

start_once() {
  local out started pid url
  out=$(mktemp)
  started=$(date +%s%N)
  target/release/dumplens serve --listen 127.0.0.1:0 --data-dir "$data" >"$out" 2>/dev/null &
  pid=$!
  until url=$(grep -o 'http://[^ ]*' "$out" 2>/dev/null) && curl -sf "${url}healthz" >/dev/null; do
    sleep 0.005
  done
  echo $(( ($(date +%s%N) - started) / 1000000 ))
  kill -TERM "$pid"; wait "$pid" || true
  rm -f "$out"
}

echo "first start (creates the cluster): $(start_once) ms"
times=()
for _ in $(seq "$runs"); do times+=("$(start_once)"); done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
echo "warm starts (ms): ${times[*]}"
echo "median warm start: $(echo "$sorted" | sed -n "$(( (runs + 1) / 2 ))p") ms"
