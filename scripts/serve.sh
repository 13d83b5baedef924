#!/usr/bin/env bash
# Serves the platform with a production server (gunicorn) and starts the job worker beside it.
#   scripts/serve.sh HOST PORT   run in the foreground until Ctrl-C (the worker stops with it)
#   scripts/serve.sh stop        stop a server and worker started by this script
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var/run
worker_pid=var/run/worker.pid
server_pid=var/run/server.pid

stop_pid() {
  if [ -f "$1" ]; then
    kill "$(cat "$1")" 2>/dev/null || true
    rm -f "$1"
  fi
}

if [ "${1:-}" = "stop" ]; then
  stop_pid "$server_pid"
  stop_pid "$worker_pid"
  exit 0
fi

host=${1:-127.0.0.1}
port=${2:-8000}
stop_pid "$worker_pid"
.venv/bin/python manage.py procrastinate worker >var/run/worker.log 2>&1 &
echo $! > "$worker_pid"
trap 'stop_pid "$worker_pid"; rm -f "$server_pid"' EXIT
echo "Wangge is on http://$host:$port/  (make stop, or Ctrl-C, to stop)"
# Two worker processes per core, two threads each: a worker's Python runs on one core at a time, and with only one
# worker per core the cores idle while requests wait on PostgreSQL (docs/performance.md, "Event creation").
workers=${WANGGE_WEB_WORKERS:-$((2 * $(nproc)))}
.venv/bin/gunicorn wangge.wsgi:application --bind "$host:$port" --workers "$workers" \
  --worker-class gthread --threads "${WANGGE_WEB_THREADS:-2}" --no-control-socket \
  --access-logfile - --pid "$server_pid"
