#!/usr/bin/env bash
# The project-local PostgreSQL/PostGIS cluster under var/pg (no system service).
#   scripts/pg.sh start   initialise on first use, then start (idempotent)
#   scripts/pg.sh stop    stop it
#   scripts/pg.sh url     print the DATABASE_URL of the local cluster
# initdb refuses to run as root, so as root the server runs as the 'postgres' system user.
# The cluster listens on 127.0.0.1 only, port $WANGGE_PG_PORT (default 5433), with a random
# password kept in var/pg/password (mode 600).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
data=$root/var/pg/data
run=$root/var/pg/run
log=$root/var/pg/server.log
pwfile=$root/var/pg/password
port=${WANGGE_PG_PORT:-5433}
dbname=${WANGGE_PG_DB:-wangge}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bindir" ]; then
  echo "PostgreSQL server binaries not found; run scripts/system-packages.sh" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

init() {
  [ -f "$data/PG_VERSION" ] && return 0
  mkdir -p "$root/var/pg" "$run"
  if [ ! -f "$pwfile" ]; then
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$pwfile")
  fi
  local tmp_pw
  tmp_pw=$(mktemp)
  cp "$pwfile" "$tmp_pw"
  if [ "$(id -u)" -eq 0 ]; then
    # The server user must reach the folder; the parents must be traversable.
    chown postgres "$tmp_pw"
    mkdir -p "$data"
    chown -R postgres "$root/var/pg/run"
    chown postgres "$data"
  fi
  as_owner "$bindir/initdb" -D "$data" -U postgres --pwfile="$tmp_pw" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$tmp_pw"
  cat >> "$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$run'
fsync = on
shared_buffers = 256MB
work_mem = 32MB
max_connections = 200
CONF
}

is_running() {
  as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1
}

start() {
  init
  if ! is_running; then
    if [ "$(id -u)" -eq 0 ]; then touch "$log"; chown postgres "$log"; fi
    if ! as_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null; then
      echo "The local PostgreSQL did not start; the end of $log says:" >&2
      tail -5 "$log" >&2
      echo "(Port $port busy? Set WANGGE_PG_PORT to another port.)" >&2
      exit 1
    fi
  fi
  export PGPASSWORD
  PGPASSWORD=$(cat "$pwfile")
  if ! "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$dbname'" | grep -q 1; then
    "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres "$dbname"
  fi
  "$bindir/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d "$dbname" \
    -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
  url > "$root/var/pg/database_url"
  chmod 600 "$root/var/pg/database_url"
}

stop() {
  if [ -f "$data/PG_VERSION" ] && is_running; then
    as_owner "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null
  fi
}

url() {
  echo "postgis://postgres:$(cat "$pwfile")@127.0.0.1:$port/$dbname"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
