#!/usr/bin/env bash
# Runs SEEDS seeds of the deterministic simulation from FIRST on, split across the machine's cores.
# Each worker is its own process with its own seed range: runs are independent and reproducible one by one.
set -uo pipefail
seeds=${1:-500}; first=${2:-1}; bin=${BIN:-.build/release}
workers=$(nproc); [ "$workers" -gt "$seeds" ] && workers=$seeds
per=$(( (seeds + workers - 1) / workers ))
dir=$(mktemp -d); pids=()
for ((w = 0; w < workers; w++)); do
  start=$(( first + w * per )); count=$per
  (( start + count > first + seeds )) && count=$(( first + seeds - start ))
  (( count <= 0 )) && continue
  "$bin/bank-sim" --first "$start" --seeds "$count" >"$dir/$w.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
cat "$dir"/*.log
rm -rf "$dir"
if [ $status -ne 0 ]; then echo "simulation FAILED (see above)"; exit 1; fi
echo "simulation: all $seeds seeds from $first passed"
