#!/bin/sh
# Restores Jalon's Redis from an RDB file (a BGSAVE backup) into a data
# directory, as the AOF that Redis loads at start. Run it while Redis is
# stopped, in a pod that mounts the Redis volume (docs/deploy.md, "Backup
# and restore"):
#
#   sh /etc/redis/restore.sh /data/backup.rdb [/data]
#
# Why not just copy the file in: with `appendonly yes` and no AOF, Redis
# ignores dump.rdb, starts empty, and its next save overwrites the file.
# So a private redis-server (loopback, AOF off) loads the RDB, then turns
# AOF on, which writes the whole dataset as the AOF's base. What was in the
# directory before is kept beside it, renamed, until you remove it.
set -eu
rdb=${1:?usage: restore.sh BACKUP.rdb [DATA_DIR]}
dir=${2:-/data}
port=${JALON_RESTORE_PORT:-6399}
cli() { redis-cli -p "$port" "$@"; }

[ -s "$rdb" ] || { echo "restore.sh: $rdb is missing or empty" >&2; exit 1; }
[ -d "$dir" ] || { echo "restore.sh: $dir is not a directory" >&2; exit 1; }
if cli ping >/dev/null 2>&1; then
  echo "restore.sh: something answers on port $port; is Redis stopped?" \
    "(or set JALON_RESTORE_PORT)" >&2
  exit 1
fi

stamp=$(date +%Y%m%dT%H%M%S)
for f in appendonlydir dump.rdb; do
  if [ -e "$dir/$f" ]; then
    mv "$dir/$f" "$dir/$f.before-restore-$stamp"
    echo "restore.sh: kept the old $f as $f.before-restore-$stamp"
  fi
done
cp "$rdb" "$dir/dump.rdb"

redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" \
  --dbfilename dump.rdb --appendonly no --save "" --logfile "" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT

# Up and done loading (PING answers LOADING until then).
i=0
until [ "$(cli ping 2>/dev/null)" = PONG ]; do
  kill -0 "$pid" 2>/dev/null || {
    echo "restore.sh: redis-server exited; is $rdb an RDB file?" >&2
    exit 1
  }
  i=$((i + 1))
  [ "$i" -le 3000 ] || { echo "restore.sh: Redis did not start" >&2; exit 1; }
  sleep 0.1
done
keys=$(cli dbsize)

# Turning AOF on starts (or schedules) the rewrite that writes the AOF.
[ "$(cli config set appendonly yes)" = OK ] || {
  echo "restore.sh: CONFIG SET appendonly yes failed" >&2
  exit 1
}
until cli info persistence | tr -d '\r' |
  grep -q '^aof_rewrite_in_progress:0$' &&
  cli info persistence | tr -d '\r' | grep -q '^aof_rewrite_scheduled:0$'; do
  sleep 0.1
done
if ! cli info persistence | tr -d '\r' |
  grep -q '^aof_last_bgrewrite_status:ok$'; then
  echo "restore.sh: writing the AOF failed; see the log above" >&2
  exit 1
fi
cli shutdown >/dev/null 2>&1 || true
wait "$pid" || true
trap - EXIT
[ -s "$dir/appendonlydir/appendonly.aof.manifest" ] || {
  echo "restore.sh: no AOF was written" >&2
  exit 1
}
echo "restore.sh: restored $keys keys into $dir/appendonlydir; start Redis"
