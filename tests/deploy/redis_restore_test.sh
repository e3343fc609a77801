#!/bin/bash
# The documented restore of Jalon's Redis from an RDB backup
# (deploy/k8s/base/redis/restore.sh, docs/deploy.md), against real
# redis-servers in a temporary directory: the restored directory, started
# with AOF on as in production, holds the backup's data, streams included,
# and not what was there before.
#   redis_restore_test.sh RESTORE_SH
set -euo pipefail
restore=$1
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Starts redis-server with AOF on (as deploy/k8s/base/redis/redis.conf) on
# a free port over directory $1; sets $port.
start_redis() {
  port=$(free_port)
  redis-server --bind 127.0.0.1 --port "$port" --dir "$1" --appendonly yes \
    --aof-use-rdb-preamble yes --save "" --logfile "$1.log" &
  pids+=($!)
  for _ in $(seq 300); do
    [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.1
  done
  fail "redis-server on $1 did not start"
}
stop_redis() {
  redis-cli -p "$port" shutdown >/dev/null 2>&1 || true
  wait "${pids[-1]}" 2>/dev/null || true
}

# The system that is backed up: a hash, a stream with a consumer group.
mkdir -p "$tmp/live" "$tmp/restored"
start_redis "$tmp/live"
redis-cli -p "$port" hset jalon:roadmap:action:1 d payload v 3 >/dev/null
redis-cli -p "$port" xadd jalon:roadmap:events '*' e event-1 >/dev/null
redis-cli -p "$port" xgroup create jalon:roadmap:events reporting 0 >/dev/null
redis-cli -p "$port" bgsave >/dev/null
until redis-cli -p "$port" info persistence | tr -d '\r' |
  grep -q '^rdb_bgsave_in_progress:0$'; do sleep 0.1; done
cp "$tmp/live/dump.rdb" "$tmp/backup.rdb"
stop_redis

# The volume it goes back to holds other data, in AOF.
start_redis "$tmp/restored"
redis-cli -p "$port" set jalon:stale yes >/dev/null
stop_redis

# Copying the RDB in is not a restore: Redis with AOF on ignores it.
mkdir -p "$tmp/naive"
cp "$tmp/backup.rdb" "$tmp/naive/dump.rdb"
start_redis "$tmp/naive"
[ "$(redis-cli -p "$port" dbsize)" = 0 ] ||
  fail "expected Redis with AOF on to ignore a lone dump.rdb"
stop_redis

# A missing backup changes nothing.
if JALON_RESTORE_PORT=$(free_port) sh "$restore" "$tmp/none.rdb" \
  "$tmp/restored" 2>/dev/null; then
  fail "restore.sh accepted a missing file"
fi
[ -d "$tmp/restored/appendonlydir" ] || fail "a failed restore moved the data"

JALON_RESTORE_PORT=$(free_port) sh "$restore" "$tmp/backup.rdb" \
  "$tmp/restored" | tee "$tmp/restore.out"
grep -q "restored 2 keys" "$tmp/restore.out" || fail "no count of keys"
ls "$tmp/restored" | grep -q '^appendonlydir.before-restore-' ||
  fail "the old AOF was not kept aside"

start_redis "$tmp/restored"
[ "$(redis-cli -p "$port" hget jalon:roadmap:action:1 d)" = payload ] ||
  fail "the hash did not come back"
[ "$(redis-cli -p "$port" xlen jalon:roadmap:events)" = 1 ] ||
  fail "the stream did not come back"
redis-cli -p "$port" xinfo groups jalon:roadmap:events | grep -q reporting ||
  fail "the consumer group did not come back"
[ "$(redis-cli -p "$port" exists jalon:stale)" = 0 ] ||
  fail "the data that was there before is still loaded"
stop_redis
echo "PASS"
