#!/usr/bin/env bash
# A throwaway PostgreSQL primary and its streaming replica on loopback, for read-scale tests
# and demos (docs/operations.md, "Read replica").
#
#   scripts/pg_replica.sh start DIR [PRIMARY_PORT] [REPLICA_PORT]
#   scripts/pg_replica.sh stop DIR
#
# `start` creates DIR, initialises a fresh primary cluster in DIR/primary (trust auth on
# 127.0.0.1 only, replication allowed, wal_level=replica), clones it with `pg_basebackup -R`
# into DIR/replica, starts the replica as a hot standby, waits until it is in recovery and
# streaming, and prints two lines on stdout:
#   primary postgresql+psycopg://postgres@127.0.0.1:PORT/postgres
#   replica postgresql+psycopg://postgres@127.0.0.1:PORT/postgres
# Ports default to the first free ones from 55432 up; a port taken by another process
# between the check and the start is skipped for the next free one (hence: read the output).
# Both clusters listen on 127.0.0.1 only, with no Unix socket, and run with fsync off: they
# are for tests, not for data you keep.
# `stop` stops both and removes DIR (only a DIR this script made). Nothing here touches any
# other cluster, such as the machine's own on port 5432. Run as root (the servers then run as
# the `postgres` user) or as the user who will own the clusters. PG_BIN overrides the
# PostgreSQL binaries' directory (default: the newest /usr/lib/postgresql/*/bin).
set -euo pipefail

MARKER=".spola-pg-replica"
FIRST_PORT=55432

die() {
  echo "pg_replica: $*" >&2
  exit 1
}

pg_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then
    echo "$PG_BIN"
    return
  fi
  local found
  found=$(find /usr/lib/postgresql -maxdepth 3 -path '*/bin/pg_basebackup' 2>/dev/null |
    sort -V | tail -n 1)
  [[ -n "$found" ]] || die "no PostgreSQL binaries under /usr/lib/postgresql (set PG_BIN)"
  dirname "$found"
}

# Run a PostgreSQL program as the clusters' owner.
as_owner() {
  if [[ "$(id -u)" == 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Run a step quietly; on failure, one line naming the step, then the logs' last lines (the
# caller may remove DIR, and with it the logs, right after a failed start).
step() {
  local what=$1
  shift
  if ! as_owner "$@" >>"$DIR/pg_replica.log" 2>&1; then
    show_logs
    die "$what failed (see $DIR/pg_replica.log)"
  fi
}

show_logs() {
  local log
  for log in "$DIR"/*.log; do
    [[ -s "$log" ]] || continue
    echo "--- last lines of $log" >&2
    tail -n 15 -- "$log" >&2
  done
}

# Start the cluster in DATA on a free port from PORT up. Another process on this machine may
# take the port between the check and the start (a second test run, say): a start that fails
# because the address is in use is retried on the next free port. Prints the port used.
start_cluster() {
  local what=$1 data=$2 port=$3 log=$4 attempt
  for attempt in 1 2 3 4 5; do
    echo "port = $port" >>"$data/postgresql.conf"
    if as_owner "$BIN/pg_ctl" -D "$data" -l "$log" -w -t 120 start >>"$DIR/pg_replica.log" 2>&1; then
      echo "$port"
      return 0
    fi
    grep -q "could not bind\|Address already in use" "$log" 2>/dev/null || break
    echo "pg_replica: port $port was taken meanwhile (attempt $attempt); trying another" >&2
    port=$(free_port $((port + 1)))
  done
  show_logs
  die "starting the $what failed (see $DIR/pg_replica.log and $log)"
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
  local port=$1
  while port_in_use "$port"; do
    port=$((port + 1))
    ((port < 65535)) || die "no free port from $1 up"
  done
  echo "$port"
}

check_port() {
  if ! [[ "$1" =~ ^[0-9]+$ ]] || (($1 < 1024 || $1 > 65535)); then
    die "bad port: $1 (1024 to 65535)"
  fi
  [[ "$1" != 5432 ]] || die "port 5432 is the machine's own cluster; pick another"
  ! port_in_use "$1" || die "port $1 is already in use"
}

query() {
  as_owner "$BIN/psql" -X -q -t -A -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2" 2>/dev/null
}

write_primary_config() {
  local data=$1
  cat >>"$data/postgresql.conf" <<EOF

# pg_replica.sh: a loopback primary for tests
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
wal_level = replica
max_wal_senders = 5
hot_standby = on
hot_standby_feedback = on
fsync = off
EOF
  cat >"$data/pg_hba.conf" <<EOF
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
EOF
}

wait_for() {
  local what=$1 port=$2 sql=$3
  for _ in $(seq 1 150); do
    [[ "$(query "$port" "$sql" || true)" == t ]] && return 0
    sleep 0.2
  done
  die "timed out waiting for $what (see $DIR/*.log)"
}

start() {
  local primary_port=${1:-} replica_port=${2:-}
  [[ ! -e "$DIR/$MARKER" ]] || die "$DIR already holds clusters: stop it first"
  mkdir -p "$DIR"
  touch "$DIR/$MARKER" "$DIR/pg_replica.log"
  # From here on DIR is ours: a failed start leaves nothing running (its logs stay in DIR).
  trap 'if (($? != 0)); then stop_cluster "$DIR/replica"; stop_cluster "$DIR/primary"; fi' EXIT
  [[ "$(id -u)" != 0 ]] || chown -R postgres: "$DIR"
  as_owner test -w "$DIR" -a -x "$DIR" || die "the clusters' owner cannot write $DIR (check its parents)"
  primary_port=${primary_port:-$(free_port "$FIRST_PORT")}
  check_port "$primary_port"
  replica_port=${replica_port:-$(free_port $((primary_port + 1)))}
  check_port "$replica_port"
  [[ "$primary_port" != "$replica_port" ]] || die "the two ports must differ"

  step initdb "$BIN/initdb" -D "$DIR/primary" -U postgres -A trust -E UTF8 --no-locale --no-sync
  write_primary_config "$DIR/primary"
  primary_port=$(start_cluster primary "$DIR/primary" "$primary_port" "$DIR/primary.log")
  step pg_basebackup "$BIN/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres \
    -D "$DIR/replica" -R -X stream -c fast --no-sync
  [[ "$replica_port" != "$primary_port" ]] || replica_port=$(free_port $((primary_port + 1)))
  replica_port=$(start_cluster replica "$DIR/replica" "$replica_port" "$DIR/replica.log")
  wait_for "the replica to be in recovery" "$replica_port" "SELECT pg_is_in_recovery()"
  wait_for "the replica to stream" "$primary_port" \
    "SELECT count(*) > 0 FROM pg_stat_replication WHERE state = 'streaming'"
  echo "primary postgresql+psycopg://postgres@127.0.0.1:$primary_port/postgres"
  echo "replica postgresql+psycopg://postgres@127.0.0.1:$replica_port/postgres"
}

stop_cluster() {
  local data=$1
  if [[ -f "$data/postmaster.pid" ]]; then
    as_owner "$BIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 ||
      die "could not stop the cluster in $data"
  fi
}

stop() {
  [[ -d "$DIR" ]] || return 0
  [[ -e "$DIR/$MARKER" ]] || die "$DIR was not made by pg_replica.sh; not removing it"
  stop_cluster "$DIR/replica"
  stop_cluster "$DIR/primary"
  rm -rf -- "$DIR"
}

main() {
  [[ $# -ge 2 ]] || die "usage: pg_replica.sh start DIR [PRIMARY_PORT] [REPLICA_PORT] | stop DIR"
  local command=$1
  DIR=$(realpath -m -- "$2")
  shift 2
  BIN=$(pg_bin)
  [[ -x "$BIN/pg_basebackup" ]] || die "no pg_basebackup in $BIN"
  if [[ "$(id -u)" == 0 ]]; then
    command -v runuser >/dev/null || die "runuser is needed to run PostgreSQL as root"
  fi
  case "$command" in
  start)
    [[ $# -le 2 ]] || die "start takes DIR and at most two ports"
    start "$@"
    ;;
  stop)
    [[ $# == 0 ]] || die "stop takes only DIR"
    stop
    ;;
  *) die "unknown command $command (start or stop)" ;;
  esac
}

main "$@"
