#!/usr/bin/env bash
# Starts, stops and signals the cluster's processes. Used by the Makefile; state lives under $VAR.
#   node.sh start|kill|stop|pause|resume NODE   (NODE: gateway, primary, backup)
#   node.sh wait-leader                         (waits until the gateway reports a leader)
set -euo pipefail
: "${VAR:=var}" "${PORT_BASE:=5555}" "${BIN:=.build/release}" "${CONFIG:=deploy/local/cluster.json}"
action=$1; node=${2:-}
pidfile="$VAR/$node.pid"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "$action" in
  start)
    mkdir -p "$VAR"
    # CURVE keys on first start, kept after: one per process, one client per role (the cluster file's default
    # keys_dir, $VAR/keys).
    "$BIN/bankctl" keys init --dir "$VAR/keys" | grep -v ': all there$' || true
    if running; then echo "$node already running (pid $(cat "$pidfile"))"; exit 0; fi
    case "$node" in
      gateway) cmd=("$BIN/bank-gateway") ;;
      primary|backup) cmd=("$BIN/bank-ledger" --node "$node") ;;
      *) echo "unknown node '$node'" >&2; exit 2 ;;
    esac
    nohup "${cmd[@]}" --config "$CONFIG" --port-base "$PORT_BASE" --data-root "$VAR" >>"$VAR/$node.log" 2>&1 &
    echo $! >"$pidfile"
    echo "started $node (pid $!, log $VAR/$node.log)" ;;
  kill|stop|pause|resume)
    sig=$(case "$action" in kill) echo KILL;; stop) echo TERM;; pause) echo STOP;; resume) echo CONT;; esac)
    if ! running; then echo "$node is not running"; [ "$action" = stop ] && rm -f "$pidfile"; exit 0; fi
    kill -s "$sig" "$(cat "$pidfile")"
    echo "$action $node (pid $(cat "$pidfile"))"
    if [ "$action" = stop ] || [ "$action" = kill ]; then
      for _ in $(seq 100); do running || break; sleep 0.05; done
      [ "$action" = kill ] || kill -s CONT "$(cat "$pidfile")" 2>/dev/null || true
      rm -f "$pidfile"
    fi ;;
  wait-leader)
    for _ in $(seq 300); do
      if "$BIN/bankctl" status --json --gateway "tcp://127.0.0.1:$PORT_BASE" --timeout 1 \
          --key "$VAR/keys/clients/operator/local-operator.key_secret" 2>/dev/null \
          | grep -Eq '"leader":"(primary|backup)"'; then exit 0; fi
      sleep 0.1
    done
    echo "the gateway reported no leader within 30 s; see $VAR/*.log" >&2; exit 1 ;;
  *) echo "usage: node.sh start|kill|stop|pause|resume NODE | wait-leader" >&2; exit 2 ;;
esac
