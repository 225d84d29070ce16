#!/usr/bin/env bash
# A throw-away Redis Cluster for tests: 6 redis-server nodes (3 masters, 3 replicas) on
# loopback ports basePort..basePort+5 (cluster bus on port+10000), nothing kept on disk.
#
#   scripts/redis-cluster.sh start <basePort> <dir>   start the nodes, create the cluster, wait
#                                                     until every node reports cluster_state:ok
#                                                     with all 16384 slots and every replica is
#                                                     in sync; prints the node addresses
#   scripts/redis-cluster.sh stop <dir>               SIGKILL the nodes started in <dir>, remove it
#
# Every node lives in <dir>/<port>/ (config, pidfile, log). `stop` only kills processes whose
# pidfile is in <dir> and that really are redis-server, so it never touches any other Redis.
# Env: REDIS_SERVER (default redis-server), REDIS_CLI (default redis-cli),
#      CLUSTER_NODE_TIMEOUT (ms, default 2000), CLUSTER_WAIT_SECONDS (default 30).
set -euo pipefail

REDIS_SERVER=${REDIS_SERVER:-redis-server}
REDIS_CLI=${REDIS_CLI:-redis-cli}
NODE_TIMEOUT=${CLUSTER_NODE_TIMEOUT:-2000}
WAIT_SECONDS=${CLUSTER_WAIT_SECONDS:-30}
NODES=6

die() { echo "redis-cluster: $*" >&2; exit 1; }
cli() { "$REDIS_CLI" -h 127.0.0.1 -p "$1" --no-auth-warning "${@:2}"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The pid in a pidfile, only when that process is alive and is a redis-server.
node_pid() {
  local pidfile=$1 pid
  [ -s "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'redis-server' || return 1
  echo "$pid"
}

stop_cluster() {
  local dir=$1 pidfile pid pids=()
  [ -d "$dir" ] || return 0
  for pidfile in "$dir"/*/redis.pid; do
    [ -e "$pidfile" ] || continue
    if pid=$(node_pid "$pidfile"); then
      kill -KILL "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  # Wait (briefly) until the processes are gone, so their ports are free again.
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do
      [ -e "/proc/$pid" ] || break
      sleep 0.1
    done
  done
  rm -rf "$dir"
}

start_cluster() {
  local base=$1 dir=$2 port i addrs=()
  [[ "$base" =~ ^[0-9]+$ ]] || die "basePort must be a number, got '$base'"
  [ "$base" -ge 1024 ] && [ $((base + NODES - 1 + 10000)) -le 65535 ] || die "basePort $base out of range"
  command -v "$REDIS_SERVER" >/dev/null || die "$REDIS_SERVER not found"
  command -v "$REDIS_CLI" >/dev/null || die "$REDIS_CLI not found"

  for i in $(seq 0 $((NODES - 1))); do
    port=$((base + i))
    if port_open "$port" || port_open $((port + 10000)); then
      die "port $port or its bus port $((port + 10000)) is already in use"
    fi
  done

  mkdir -p "$dir"
  # Whatever fails from here on, leave nothing running behind.
  trap 'stop_cluster "$dir"' ERR

  for i in $(seq 0 $((NODES - 1))); do
    port=$((base + i))
    mkdir -p "$dir/$port"
    "$REDIS_SERVER" \
      --port "$port" --bind 127.0.0.1 --protected-mode yes \
      --cluster-enabled yes --cluster-config-file "$dir/$port/nodes.conf" \
      --cluster-node-timeout "$NODE_TIMEOUT" \
      --save "" --appendonly no --dir "$dir/$port" \
      --daemonize yes --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log" \
      || die "redis-server on port $port did not start"
    addrs+=("127.0.0.1:$port")
  done

  local deadline=$((SECONDS + WAIT_SECONDS))
  for i in $(seq 0 $((NODES - 1))); do
    port=$((base + i))
    until [ "$(cli "$port" PING 2>/dev/null)" = "PONG" ]; do
      if [ $SECONDS -ge $deadline ]; then
        tail -n 20 "$dir/$port/redis.log" >&2 || true
        die "node $port did not answer PING within ${WAIT_SECONDS}s"
      fi
      sleep 0.1
    done
  done

  "$REDIS_CLI" --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 \
    || { cat "$dir/create.log" >&2; die "redis-cli --cluster create failed"; }

  # Every node must agree the cluster is up, with every slot served, and every replica must
  # be linked to its master (so WAIT and failover work from the first test on).
  local ready info replication
  while :; do
    ready=1
    for i in $(seq 0 $((NODES - 1))); do
      port=$((base + i))
      info=$(cli "$port" CLUSTER INFO 2>/dev/null | tr -d '\r') || { ready=0; break; }
      grep -qx 'cluster_state:ok' <<<"$info" || { ready=0; break; }
      grep -qx 'cluster_slots_ok:16384' <<<"$info" || { ready=0; break; }
      grep -qx 'cluster_known_nodes:6' <<<"$info" || { ready=0; break; }
      replication=$(cli "$port" INFO replication 2>/dev/null | tr -d '\r') || { ready=0; break; }
      if grep -qx 'role:slave' <<<"$replication"; then
        grep -qx 'master_link_status:up' <<<"$replication" || { ready=0; break; }
      else
        grep -qx 'connected_slaves:1' <<<"$replication" || { ready=0; break; }
      fi
    done
    [ $ready = 1 ] && break
    if [ $SECONDS -ge $deadline ]; then
      cli "$base" CLUSTER INFO >&2 || true
      cli "$base" CLUSTER NODES >&2 || true
      die "cluster not ready within ${WAIT_SECONDS}s"
    fi
    sleep 0.2
  done
  trap - ERR
  printf '%s\n' "${addrs[@]}"
}

case "${1:-}" in
  start)
    [ $# -eq 3 ] || die "usage: $0 start <basePort> <dir>"
    start_cluster "$2" "$3"
    ;;
  stop)
    [ $# -eq 2 ] || die "usage: $0 stop <dir>"
    stop_cluster "$2"
    ;;
  *)
    die "usage: $0 start <basePort> <dir> | stop <dir>"
    ;;
esac
