#!/bin/sh
# Stands in for the ringcache binary in tests: accepts ringcache's flags,
# checks the ones compare must pass, and serves RESP with redis-server.
set -eu
listen="" dir="" fsync="" level=""
while [ $# -gt 0 ]; do
  case "$1" in
    --listen) listen="$2"; shift 2 ;;
    --data-dir) dir="$2"; shift 2 ;;
    --fsync) fsync="$2"; shift 2 ;;
    --log-level) level="$2"; shift 2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
[ "$fsync" = everysec ] || { echo "fsync $fsync" >&2; exit 2; }
[ "$level" = warn ] || { echo "log-level $level" >&2; exit 2; }
[ -d "$dir" ] || { echo "no data dir $dir" >&2; exit 2; }
exec redis-server --bind "${listen%:*}" --port "${listen##*:}" --dir "$dir" --save '' --appendonly no
