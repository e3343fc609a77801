#!/bin/sh
# Writes the ACL file from the mounted Secret, then becomes redis-server.
# `default` (the services) may use everything Jalon needs on its own keys
# and channels (jalon:*) but no @dangerous command (CONFIG, DEBUG, FLUSH*,
# KEYS, SHUTDOWN, MONITOR, ACL, REPLICAOF, MIGRATE, RESTORE, SORT, INFO,
# CLIENT KILL, ...); `admin` may do everything, for operators only.
set -eu
secrets=${JALON_REDIS_SECRETS_DIR:-/var/run/secrets/jalon/redis}
acl=${JALON_REDIS_ACL_FILE:-/run/redis/users.acl}
app=$(cat "$secrets/password")
admin=$(cat "$secrets/admin-password")
# An empty file would give the user an empty password, which AUTH accepts.
if [ "${#app}" -lt 16 ] || [ "${#admin}" -lt 16 ]; then
  echo "start.sh: each Redis password must be at least 16 characters" >&2
  exit 1
fi
case "$app$admin" in
  *[!A-Za-z0-9._~-]*) echo "start.sh: passwords must be [A-Za-z0-9._~-] only" >&2; exit 1 ;;
esac
umask 077
cat > "$acl" <<ACL
user default on >$app ~jalon:* &jalon:* +@all -@dangerous
user admin on >$admin ~* &* +@all
ACL
# maxmemory comes from the container (set next to its memory limit, per
# overlay): at it, noeviction refuses writes; without it, the kernel would
# OOM-kill Redis at the limit instead.
if [ -n "${JALON_REDIS_MAXMEMORY:-}" ]; then
  set -- --maxmemory "$JALON_REDIS_MAXMEMORY" "$@"
fi
exec redis-server "${JALON_REDIS_CONF:-/etc/redis/redis.conf}" "$@"
