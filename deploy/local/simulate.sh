#!/usr/bin/env bash
# Runs SEEDS seeds of the deterministic simulation from FIRST on, split across the machine's cores.
# SIM_ARGS (e.g. --load-only) go to every bank-sim.
# Each worker is its own process with its own seed range: runs are independent and reproducible one by one.
# Workers' progress lines stream as they come, prefixed with the worker's number; each worker ends with its
# summary (seeds/s, faults by kind, leader changes), and the last line sums up the whole run.
set -uo pipefail
seeds=${1:-500}; first=${2:-1}; bin=${BIN:-.build/release}
workers=$(nproc); [ "$workers" -gt "$seeds" ] && workers=$seeds
per=$(( (seeds + workers - 1) / workers ))
pids=(); started=$(date +%s)
for ((w = 0; w < workers; w++)); do
  start=$(( first + w * per )); count=$per
  (( start + count > first + seeds )) && count=$(( first + seeds - start ))
  (( count <= 0 )) && continue
  ( "$bin/bank-sim" --first "$start" --seeds "$count" ${SIM_ARGS:-} 2>&1 | sed -u "s/^/[worker $w] /"; exit "${PIPESTATUS[0]}" ) &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
elapsed=$(( $(date +%s) - started )); (( elapsed == 0 )) && elapsed=1
if [ $status -ne 0 ]; then echo "simulation FAILED (see above; replay a seed with: make simulate SEED=<seed>)"; exit 1; fi
echo "simulation: all $seeds seeds from $first passed in ${elapsed} s ($(( seeds / elapsed )) seeds/s on $workers workers)"
