#!/bin/bash
# Stops the Keystone that scripts/keystone-up.sh started (found by its pid file, nothing else).
#
#   bash scripts/keystone-down.sh           # stop; the state is kept, so the next up is quick
#   bash scripts/keystone-down.sh --purge   # stop and delete the state directory
#
# KEYSTONE_STATE: the same state directory as keystone-up.sh (default /tmp/tricircle-keystone).
set -euo pipefail

STATE="${KEYSTONE_STATE:-/tmp/tricircle-keystone}"
PIDFILE="$STATE/run/keystone.pid"

if [ -f "$PIDFILE" ]; then
  pid="$(cat "$PIDFILE")"
  if kill -0 "$pid" 2>/dev/null; then
    # The uwsgi master (die-on-term) stops its workers and exits on SIGTERM.
    kill -TERM "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "keystone (pid $pid) did not stop within 10 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "keystone (pid $pid) stopped"
  fi
  rm -f "$PIDFILE" "$STATE/run/keystone.port"
fi

if [ "${1:-}" = --purge ]; then
  rm -rf "$STATE"
  echo "removed $STATE"
fi
