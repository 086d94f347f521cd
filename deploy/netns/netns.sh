#!/usr/bin/env bash
# The network-namespace test bed: the gateway, primary and backup each in a network namespace of its own, with an
# address of its own, joined by a bridge; this machine reaches them through the bridge. Partitions are nftables
# rules inside the namespaces (packets dropped silently, as on a real network: no resets); loss and delay shape
# every link (tc netem where the kernel has it, else netdelay.c on an NFQUEUE queue; see `shape`).
#
#   netns.sh check                      exit 0 if this process can create network namespaces
#   netns.sh up                         namespaces, bridge, cluster file, the three processes; waits for a leader
#   netns.sh down                       stops the processes, removes namespaces, bridge and rules
#   netns.sh net-up | net-down          only the namespaces and the bridge (the tests start their own processes)
#   netns.sh start|kill|stop|pause|resume NODE
#   netns.sh partition A B [oneway]     cut A<->B (oneway: only what A sends to B is lost)
#   netns.sh heal                       remove every cut
#   netns.sh shape LOSS_PERCENT DELAY [JITTER]   e.g. shape 1 2ms 1ms; shape 0 0ms removes the shaping
#   netns.sh gateway                    prints the gateway's client endpoint
#
# NETNS (name prefix, default bank), SUBNET (first three octets, default 10.77.0), VAR (state, default var/netns)
# and BIN (default .build/release) let several beds exist side by side (the tests use their own).
set -euo pipefail
: "${NETNS:=bank}" "${SUBNET:=10.77.0}" "${VAR:=var/netns}" "${BIN:=.build/release}"
action=${1:-}; shift || true
nodes=(gateway primary backup)
bridge="${NETNS}br0"
# Delayers' pids and logs (one per namespace while a delay is applied without tc netem).
shaping="${TMPDIR:-/tmp}/bank-netns-$NETNS"
netdelay_source="$(dirname "$0")/netdelay.c"
netdelay_bin=".build/netdelay"

addr() {
  case "$1" in
    gateway) echo "$SUBNET.1" ;; primary) echo "$SUBNET.2" ;; backup) echo "$SUBNET.3" ;;
    *) echo "unknown node '$1' (gateway, primary or backup)" >&2; exit 2 ;;
  esac
}
ns() { addr "$1" >/dev/null; echo "$NETNS-$1"; }
pidfile() { echo "$VAR/$1.pid"; }
running() { [ -f "$(pidfile "$1")" ] && kill -0 "$(cat "$(pidfile "$1")")" 2>/dev/null; }
exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -Fxq "$(ns "$1")"; }
valid_node() {
  case "${1:-}" in gateway|primary|backup) ;; *) echo "unknown node '${1:-}' (gateway, primary or backup)" >&2; exit 2 ;; esac
}

can_create_namespaces() {
  local probe="${NETNS}-probe-$$"
  ip netns add "$probe" 2>/dev/null || return 1
  ip netns del "$probe"
}

write_cluster_file() {
  mkdir -p "$VAR"
  # CURVE keys on first start, kept after (one per process, one client per role).
  "$BIN/bankctl" keys init --dir "$VAR/keys" | grep -v ': all there$' || true
  cat >"$VAR/cluster.json" <<EOF
{
  "data_root": "$VAR",
  "processes": [
    {"name": "gateway", "kind": "gateway", "metrics_bind": "$(addr gateway):9464",
     "client_bind": "tcp://$(addr gateway):5555", "peer_bind": "tcp://$(addr gateway):5556"},
    {"name": "primary", "kind": "ledger", "peer_bind": "tcp://$(addr primary):5557",
     "metrics_bind": "$(addr primary):9464"},
    {"name": "backup", "kind": "ledger", "peer_bind": "tcp://$(addr backup):5557",
     "metrics_bind": "$(addr backup):9464"}
  ]
}
EOF
}

start() {
  local node=$1
  if running "$node"; then echo "$node already running (pid $(cat "$(pidfile "$node")"))"; return; fi
  local cmd
  case "$node" in
    gateway) cmd=("$BIN/bank-gateway") ;;
    *) cmd=("$BIN/bank-ledger" --node "$node") ;;
  esac
  # `ip netns exec` enters the namespace and executes the program in its own process: the pid is the server's.
  nohup ip netns exec "$(ns "$node")" "${cmd[@]}" --config "$VAR/cluster.json" >>"$VAR/$node.log" 2>&1 &
  echo $! >"$(pidfile "$node")"
  echo "started $node in namespace $(ns "$node") at $(addr "$node") (pid $!, log $VAR/$node.log)"
}

signal() {
  local sig=$1 node=$2
  if ! running "$node"; then echo "$node is not running"; rm -f "$(pidfile "$node")"; return; fi
  local pid
  pid=$(cat "$(pidfile "$node")")
  # A paused process holds a TERM until it is continued.
  [ "$sig" != TERM ] || kill -s CONT "$pid" 2>/dev/null || true
  kill -s "$sig" "$pid"
  if [ "$sig" = KILL ] || [ "$sig" = TERM ]; then
    for _ in $(seq 100); do running "$node" || break; sleep 0.05; done
    if running "$node"; then
      echo "$node did not stop within 5 s of $sig: SIGKILL" >&2
      kill -s KILL "$pid" 2>/dev/null || true
      for _ in $(seq 100); do running "$node" || break; sleep 0.05; done
    fi
    running "$node" || rm -f "$(pidfile "$node")"
  fi
  echo "$sig $node"
}

net_up() {
  if ! can_create_namespaces; then
    echo "this process cannot create network namespaces (it needs CAP_SYS_ADMIN and CAP_NET_ADMIN: run as root)" >&2
    exit 1
  fi
  if ! ip link show "$bridge" >/dev/null 2>&1; then
    ip link add "$bridge" type bridge
    ip addr add "$SUBNET.254/24" dev "$bridge"
    ip link set "$bridge" up
  fi
  local i=0
  for node in "${nodes[@]}"; do
    i=$((i + 1))
    if ! exists "$node"; then
      ip netns add "$(ns "$node")"
      ip link add "${NETNS}v$i" type veth peer name eth0 netns "$(ns "$node")"
      ip link set "${NETNS}v$i" master "$bridge" up
      ip -n "$(ns "$node")" addr add "$(addr "$node")/24" dev eth0
      ip -n "$(ns "$node")" link set eth0 up
      ip -n "$(ns "$node")" link set lo up
    fi
  done
}

net_down() {
  stop_delayers
  for node in "${nodes[@]}"; do
    if exists "$node"; then ip netns del "$(ns "$node")"; fi
  done
  if ip link show "$bridge" >/dev/null 2>&1; then ip link del "$bridge"; fi
  rm -rf "$shaping"
}

up() {
  net_up
  write_cluster_file
  for node in primary backup gateway; do start "$node"; done
  for _ in $(seq 300); do
    if "$BIN/bankctl" status --json --gateway "tcp://$(addr gateway):5555" --timeout 1 \
        --key "$VAR/keys/clients/operator/local-operator.key_secret" 2>/dev/null \
        | grep -Eq '"leader":"(primary|backup)"'; then return 0; fi
    sleep 0.1
  done
  echo "the gateway reported no leader within 30 s; see $VAR/*.log" >&2
  exit 1
}

down() {
  for node in "${nodes[@]}"; do
    if running "$node"; then signal TERM "$node" >/dev/null; fi
    rm -f "$(pidfile "$node")"
  done
  net_down
  echo "test bed $NETNS removed"
}

nft_in() { ip netns exec "$(ns "$1")" nft "${@:2}"; }

partition() {
  local a=$1 b=$2 oneway=${3:-}
  [ "$a" != "$b" ] || { echo "partition needs two different nodes" >&2; exit 2; }
  command -v nft >/dev/null || { echo "nft (Debian's nftables) is missing: make netns-deps installs it" >&2; exit 1; }
  nft_in "$a" add table inet bank_partition
  nft_in "$a" add chain inet bank_partition output '{ type filter hook output priority 0; }'
  nft_in "$a" add chain inet bank_partition input '{ type filter hook input priority 0; }'
  nft_in "$a" add rule inet bank_partition output ip daddr "$(addr "$b")" drop
  if [ "$oneway" = oneway ]; then
    echo "cut $a -> $b (what $a sends to $b is lost; $b -> $a still flows)"
  else
    nft_in "$a" add rule inet bank_partition input ip saddr "$(addr "$b")" drop
    echo "cut $a <-> $b"
  fi
}

heal() {
  for node in "${nodes[@]}"; do
    exists "$node" && nft_in "$node" delete table inet bank_partition 2>/dev/null || true
  done
  echo "healed: no cuts"
}

# A duration (2ms, 0.5ms, 500us, 0) in microseconds.
microseconds() {
  awk -v d="$1" 'BEGIN {
    if (d ~ /us$/) { sub(/us$/, "", d); printf "%d", d }
    else if (d ~ /ms$/) { sub(/ms$/, "", d); printf "%d", d * 1000 }
    else if (d ~ /s$/) { sub(/s$/, "", d); printf "%d", d * 1000000 }
    else printf "%d", d * 1000 }'
}

stop_delayers() {
  for node in "${nodes[@]}"; do
    local pid="$shaping/netdelay-$node.pid"
    if [ -f "$pid" ]; then kill "$(cat "$pid")" 2>/dev/null || true; rm -f "$pid"; fi
    exists "$node" && ip netns exec "$(ns "$node")" iptables -t mangle -F PREROUTING 2>/dev/null || true
  done
}

# Without tc netem: every namespace's incoming packets go through an NFQUEUE queue to netdelay, which holds each
# for the delay (plus jitter) and drops the loss share. Incoming, not outgoing: a packet held on its way out is
# still charged to its sending socket (TCP small queues), which then throttles itself — at 2 ms, batches of
# transfers collapsed to 14,000/s with idle processes; a packet that crossed the veth into another namespace is
# no longer the sender's.
start_delayers() {
  local delay_us=$1 jitter_us=$2 loss_ppm=$3
  command -v iptables >/dev/null && [ -f /usr/include/libnetfilter_queue/libnetfilter_queue.h ] || {
    echo "a delay without tc netem needs iptables and libnetfilter-queue-dev: make netns-deps installs them" >&2; exit 1; }
  if [ ! -x "$netdelay_bin" ] || [ "$netdelay_source" -nt "$netdelay_bin" ]; then
    mkdir -p "$(dirname "$netdelay_bin")"
    cc -O2 -o "$netdelay_bin" "$netdelay_source" -lnetfilter_queue -lnfnetlink
  fi
  mkdir -p "$shaping"
  for node in "${nodes[@]}"; do
    rm -f "$shaping/netdelay-$node.log"
    nohup ip netns exec "$(ns "$node")" "$netdelay_bin" 0 "$delay_us" "$jitter_us" "$loss_ppm" \
      </dev/null >"$shaping/netdelay-$node.log" 2>&1 &
    echo $! >"$shaping/netdelay-$node.pid"
  done
  # The queue exists once netdelay has bound it; only then may packets be queued to it (with --queue-bypass they
  # would pass undelayed before, not be lost).
  for node in "${nodes[@]}"; do
    for _ in $(seq 250); do grep -q "^netdelay: queue" "$shaping/netdelay-$node.log" 2>/dev/null && break; sleep 0.02; done
    if ! grep -q "^netdelay: queue" "$shaping/netdelay-$node.log" 2>/dev/null \
        || ! kill -0 "$(cat "$shaping/netdelay-$node.pid")" 2>/dev/null; then
      echo "netdelay did not start in $(ns "$node"):" >&2
      cat "$shaping/netdelay-$node.log" >&2 2>/dev/null || true
      stop_delayers
      exit 1
    fi
    ip netns exec "$(ns "$node")" iptables -t mangle -A PREROUTING -i eth0 -j NFQUEUE --queue-num 0 --queue-bypass
  done
}

# Loss and delay on every link (each namespace's outgoing traffic). tc netem shapes both when the kernel has it
# (CONFIG_NET_SCH_NETEM); without it, a delay goes through netdelay (user space, NFQUEUE) and loss alone through
# nftables.
shape() {
  local loss=${1:-0} delay=${2:-0ms} jitter=${3:-}
  stop_delayers
  for node in "${nodes[@]}"; do
    ip netns exec "$(ns "$node")" tc qdisc del dev eth0 root 2>/dev/null || true
    nft_in "$node" delete table inet bank_shape 2>/dev/null || true
  done
  local delay_us jitter_us
  delay_us=$(microseconds "$delay"); jitter_us=$(microseconds "${jitter:-0}")
  if [ "$loss" = 0 ] && [ "$delay_us" = 0 ]; then echo "links unshaped"; return; fi
  local netem=(netem)
  [ "$delay_us" = 0 ] || netem+=(delay "$delay" ${jitter:+"$jitter"})
  [ "$loss" = 0 ] || netem+=(loss "$loss%")
  if ip netns exec "$(ns gateway)" tc qdisc add dev eth0 root "${netem[@]}" 2>/dev/null; then
    for node in primary backup; do
      ip netns exec "$(ns "$node")" tc qdisc add dev eth0 root "${netem[@]}" || {
        for n in "${nodes[@]}"; do ip netns exec "$(ns "$n")" tc qdisc del dev eth0 root 2>/dev/null || true; done
        echo "tc netem failed in $(ns "$node"); links left unshaped" >&2; exit 1; }
    done
    echo "every link: ${netem[*]:1} (tc netem)"
    return
  fi
  if [ "$delay_us" != 0 ]; then
    local loss_ppm
    loss_ppm=$(awk -v p="$loss" 'BEGIN { printf "%d", p * 10000 }')
    start_delayers "$delay_us" "$jitter_us" "$loss_ppm"
    echo "every link: delay $delay${jitter:+ ± $jitter}, loss $loss% (netdelay on NFQUEUE; this kernel has no tc netem)"
    return
  fi
  command -v nft >/dev/null || { echo "nft (Debian's nftables) is missing: make netns-deps installs it" >&2; exit 1; }
  # numgen draws 0..9999 per packet: drop below loss% x 100.
  local threshold
  threshold=$(awk -v p="$loss" 'BEGIN { printf "%d", p * 100 }')
  for node in "${nodes[@]}"; do
    nft_in "$node" add table inet bank_shape
    nft_in "$node" add chain inet bank_shape output '{ type filter hook output priority 0; }'
    nft_in "$node" add rule inet bank_shape output oifname eth0 numgen random mod 10000 '<' "$threshold" drop
  done
  echo "every link: loss $loss% (nftables; this kernel has no tc netem)"
}

case "$action" in
  check) can_create_namespaces ;;
  up) up ;;
  down) down ;;
  net-up) net_up ;;
  net-down) net_down ;;
  start) valid_node "${1:-}"; start "$1" ;;
  kill) valid_node "${1:-}"; signal KILL "$1" ;;
  stop) valid_node "${1:-}"; signal TERM "$1" ;;
  pause) valid_node "${1:-}"; signal STOP "$1" ;;
  resume) valid_node "${1:-}"; signal CONT "$1" ;;
  partition) valid_node "${1:-}"; valid_node "${2:-}"; partition "$@" ;;
  heal) heal ;;
  shape) shape "$@" ;;
  gateway) echo "tcp://$(addr gateway):5555" ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
