#!/usr/bin/env bash
# Prometheus (Debian's package) scraping the local cluster, with the shipped alert rules.
#   prometheus.sh start    writes $VAR/prometheus/prometheus.yml from deploy/prometheus/ with this cluster's
#                          metrics endpoints (PORT_BASE + 4, 5, 6), starts the server on 127.0.0.1:$PROM_PORT
#   prometheus.sh stop
set -euo pipefail
VAR=${VAR:-var}
PORT_BASE=${PORT_BASE:-5555}
PROM_PORT=${PROM_PORT:-9090}
DIR="$VAR/prometheus"
PIDFILE="$DIR/prometheus.pid"
HERE=$(cd "$(dirname "$0")/../.." && pwd)

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

case "${1:-}" in
  start)
    command -v prometheus >/dev/null || { echo "prometheus is not installed: apt-get install prometheus (make prometheus-deps as root)" >&2; exit 1; }
    if running; then echo "prometheus already running (pid $(cat "$PIDFILE")) at http://127.0.0.1:$PROM_PORT"; exit 0; fi
    mkdir -p "$DIR"
    sed -e "s/10\.0\.0\.1:9464/127.0.0.1:$((PORT_BASE + 4))/" \
        -e "s/10\.0\.0\.2:9464/127.0.0.1:$((PORT_BASE + 5))/" \
        -e "s/10\.0\.0\.3:9464/127.0.0.1:$((PORT_BASE + 6))/" \
        "$HERE/deploy/prometheus/prometheus.yml" >"$DIR/prometheus.yml"
    cp "$HERE/deploy/prometheus/alerts.yml" "$DIR/alerts.yml"
    nohup prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/data" \
      --web.listen-address="127.0.0.1:$PROM_PORT" >"$DIR/prometheus.log" 2>&1 &
    echo $! >"$PIDFILE"
    for _ in $(seq 50); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$PROM_PORT") 2>/dev/null; then break; fi
      running || { echo "prometheus did not start; see $DIR/prometheus.log" >&2; exit 1; }
      sleep 0.2
    done
    echo "prometheus at http://127.0.0.1:$PROM_PORT (targets: /targets, alerts: /alerts); log $DIR/prometheus.log"
    echo "Grafana: import deploy/grafana/bank-dashboard.json with this Prometheus as its data source"
    ;;
  stop)
    if running; then kill "$(cat "$PIDFILE")"; echo "prometheus stopped"; fi
    rm -f "$PIDFILE"
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
