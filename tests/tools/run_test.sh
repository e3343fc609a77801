#!/usr/bin/env bash
# tools/run as a user runs it, twice on the same state: it starts Redis and
# the three services, imports the example roadmap, generates a report and
# prints the summary, the report and the feed; SIGTERM (what Ctrl-C sends
# is the same handler; a background job here ignores SIGINT) stops
# everything with exit 0; the second run reuses the data and imports nothing
# twice; a third, after the Redis data is reset, works again (a new feed
# key). All of it under a path with a space.
# Usage: run_test.sh BUILD_DIR
set -euo pipefail
BUILD_DIR=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STATE=$(mktemp -d "${TMPDIR:-/tmp}/jalon run.XXXXXX")
RUN_PID=""
cleanup() {
  [ -n "$RUN_PID" ] && kill -TERM "$RUN_PID" 2>/dev/null && wait "$RUN_PID" 2>/dev/null
  rm -rf "$STATE"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
export JALON_VAR_DIR="$STATE/var" JALON_BUILD_DIR="$BUILD_DIR"
# As tools/run's summary suggests for jalonctl: no service should mind it.
export JALON_TOKEN_FILE="$STATE/var/admin.token"
export JALON_REDIS_PORT=$(free_port) JALON_ROADMAP_PORT=$(free_port)
export JALON_FEEDBACK_PORT=$(free_port) JALON_REPORTING_PORT=$(free_port)
export JALON_REPORTING_HTTP_PORT=$(free_port)

fail() { echo "run_test: $*" >&2; exit 1; }
# Takes a free port with a listener that is no Jalon part (someone else's
# server) for two minutes: sets BUSY_PORT and BUSY_PID, and returns once
# it listens.
start_busy_listener() {
  BUSY_PORT=$(free_port)
  python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
time.sleep(120)' "$BUSY_PORT" &
  BUSY_PID=$!
  trap 'kill "$BUSY_PID" 2>/dev/null; cleanup' EXIT
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$BUSY_PORT") 2>/dev/null && return 0
    sleep 0.1
  done
  fail "nothing listens on port $BUSY_PORT"
}

# `env VAR=value... tools/run --no-example ARGS...` must refuse to start:
# exit non-zero within 2 minutes and say `pattern`.
# Usage: expect_refusal what pattern [VAR=value...] [-- tools/run args...]
expect_refusal() {
  local what=$1 pattern=$2 out="$STATE/refused.out" code=0 envs=()
  shift 2
  while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
  [ $# -eq 0 ] || shift
  env "${envs[@]}" timeout 120 "$ROOT/tools/run" --no-example "$@" \
    >"$out" 2>&1 || code=$?
  [ "$code" != 0 ] && [ "$code" != 124 ] ||
    { cat "$out"; fail "$what: exited with $code"; }
  grep -q "$pattern" "$out" || { cat "$out"; fail "$what: did not say '$pattern'"; }
}
# Nothing runs from var dir $1 any more (a refused start stopped its part).
expect_nothing_left() {  # var-dir what
  if pgrep -f "$1" >/dev/null; then
    pgrep -af "$1" >&2
    fail "$2 left processes running"
  fi
}

run_once() {  # output-file [tools/run arguments...]
  local out=$1
  shift
  "$ROOT/tools/run" "$@" >"$out" 2>&1 &
  local pid=$!
  RUN_PID=$pid
  for _ in $(seq 1 600); do
    grep -q "Press Ctrl-C to stop" "$out" && break
    kill -0 "$pid" 2>/dev/null || { cat "$out"; fail "tools/run exited early"; }
    sleep 0.2
  done
  grep -q "Press Ctrl-C to stop" "$out" || { cat "$out"; fail "tools/run did not start"; }
  # What it printed works: the page, the feed, the token.
  local report feed
  report=$(sed -n 's/^  HTML report *\(.*\.html\)$/\1/p' "$out")
  [ -s "$report" ] || { cat "$out"; fail "no HTML report at '$report'"; }
  grep -q "<svg" "$report" || fail "the HTML report has no chart"
  feed=$(sed -n 's/^  Atom feed *\(http.*\)$/\1/p' "$out")
  # (Captured first: with pipefail, grep -q closing the pipe early would fail
  # curl with SIGPIPE on a long feed.)
  local body
  body=$(curl -sf "$feed") || fail "the Atom feed at $feed does not answer"
  [[ "$body" == *"<feed"* ]] || fail "the Atom feed at $feed is not Atom"
  body=$(curl -sf "http://127.0.0.1:$JALON_REPORTING_HTTP_PORT/healthz") ||
    fail "/healthz does not answer"
  [[ "$body" == ok* ]] || fail "/healthz says '$body'"
  for line in "Valorisation des déchets" "Machines agricoles et bicyclettes" \
              "Travail des métaux" "Nouveaux emplois" "actions:"; do
    grep -q "$line" "$out" || { cat "$out"; fail "summary lacks '$line'"; }
  done
  kill -TERM "$pid"
  local code=0
  wait "$pid" || code=$?
  RUN_PID=""
  [ "$code" = 0 ] || { cat "$out"; fail "tools/run exited with $code on SIGTERM"; }
  grep -q "jalon: stopped" "$out" || fail "no clean stop"
  # tools/run's own settings (the ports above) are not passed on.
  if grep -h "environment_variable_ignored" "$JALON_VAR_DIR"/log/*.log; then
    fail "a service was given a JALON_* variable it does not know"
  fi
}

day_before=$(date -u +%F)
run_once "$STATE/first.out"
grep -q "^3[0-9] created" "$JALON_VAR_DIR/log/import.log" ||
  { cat "$JALON_VAR_DIR/log/import.log"; fail "the first run did not import"; }
run_once "$STATE/second.out"
tail -1 "$JALON_VAR_DIR/log/import.log" | grep -q "^0 created, 0 updated" ||
  { cat "$JALON_VAR_DIR/log/import.log"; fail "the second run imported again"; }
# The same report of the day, not a second one (unless the runs straddled
# midnight UTC, when a new day's report is right).
if [ "$(date -u +%F)" = "$day_before" ]; then
  [ "$(sed -n 's/^  HTML report *\(.*\)$/\1/p' "$STATE/first.out")" = \
    "$(sed -n 's/^  HTML report *\(.*\)$/\1/p' "$STATE/second.out")" ] ||
    fail "the second run generated another report on the same day"
fi

# Redis' data reset (a new password, no tokens, no feed key): the run
# starts over and everything it prints works again.
first_key=$(cat "$JALON_VAR_DIR/feed.key")
rm -rf "$JALON_VAR_DIR/redis"
run_once "$STATE/reset.out"
[ "$(cat "$JALON_VAR_DIR/feed.key")" != "$first_key" ] ||
  fail "the feed key of the old data was kept"

# Its Redis port taken by someone else's server: a clear refusal, not that
# server taken for its own.
start_busy_listener
expect_refusal "a taken Redis port" "port $BUSY_PORT is in use" \
  JALON_VAR_DIR="$STATE/var-redis-busy" JALON_REDIS_PORT=$BUSY_PORT
kill "$BUSY_PID" 2>/dev/null || true

# A start that fails (the roadmap port is taken) exits non-zero, and stops
# what it had started.
start_busy_listener
expect_refusal "a failed start" "stopped after a failure" \
  JALON_VAR_DIR="$STATE/var-busy" JALON_REDIS_PORT="$(free_port)" \
  JALON_ROADMAP_PORT=$BUSY_PORT
kill "$BUSY_PID" 2>/dev/null || true
expect_nothing_left "$STATE/var-busy" "a failed start"

# A run killed outright (SIGKILL) leaves its Redis running, in a session of
# its own: the next run names it.
KILLED="$STATE/var-killed"
KILLED_REDIS_PORT=$(free_port)
left=""
# What the killed run left: its services, and its Redis (whose process
# title does not name the path), whatever this test's outcome.
stop_killed() {
  pkill -TERM -f "$KILLED" || true
  [ -z "$left" ] || kill -TERM "$left" 2>/dev/null || true
  [ ! -s "$KILLED/redis/password" ] ||
    REDISCLI_AUTH=$(cat "$KILLED/redis/password") \
      redis-cli -p "$KILLED_REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  for _ in $(seq 1 300); do
    pgrep -f "$KILLED" >/dev/null ||
      { [ -n "$left" ] && kill -0 "$left" 2>/dev/null; } || break
    sleep 0.1
  done
}
trap 'stop_killed; cleanup' EXIT
JALON_VAR_DIR="$KILLED" JALON_REDIS_PORT=$KILLED_REDIS_PORT \
  "$ROOT/tools/run" --no-example >"$STATE/killed.out" 2>&1 &
killed_pid=$!
for _ in $(seq 1 600); do
  grep -q "Press Ctrl-C to stop" "$STATE/killed.out" && break
  sleep 0.2
done
grep -q "Press Ctrl-C to stop" "$STATE/killed.out" ||
  { cat "$STATE/killed.out"; fail "the run to kill did not start"; }
kill -KILL "$killed_pid"
wait "$killed_pid" 2>/dev/null || true
left=$(cat "$KILLED/redis/redis.pid" 2>/dev/null || true)
[ -n "$left" ] || fail "the killed run's Redis wrote no pid file"
expect_refusal "a run after a killed one" "Redis of an earlier run (pid $left)" \
  JALON_VAR_DIR="$KILLED" JALON_REDIS_PORT=$KILLED_REDIS_PORT
# On another port too: a second Redis would append to the same files.
expect_refusal "a run after a killed one, on another Redis port" \
  "Redis of an earlier run (pid $left)" \
  JALON_VAR_DIR="$KILLED" JALON_REDIS_PORT="$(free_port)"
stop_killed

# --redis: an existing Redis (with a password), no private one.
EXT="$STATE/external-redis"
mkdir -p "$EXT"
EXT_PORT=$(free_port)
(umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$EXT/password")
redis-server --port "$EXT_PORT" --bind 127.0.0.1 --dir "$EXT" --save "" \
  --requirepass "$(cat "$EXT/password")" --logfile "$EXT/redis.log" \
  --daemonize yes --pidfile "$EXT/redis.pid"
ext_cli() { REDISCLI_AUTH=$(cat "$EXT/password") redis-cli -p "$EXT_PORT" "$@"; }
# Waits for it to be gone: Redis opens its log file anew for each line, so
# one still shutting down would write it again in the folder being removed.
stop_ext() {
  local pid
  pid=$(cat "$EXT/redis.pid" 2>/dev/null) || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
}
trap 'stop_ext; stop_killed; cleanup' EXIT
for _ in $(seq 1 100); do
  ext_cli ping 2>/dev/null | grep -q PONG && break
  sleep 0.1
done
export JALON_VAR_DIR="$STATE/var-external" JALON_REDIS_PORT=$(free_port)
# The password file's path relative to where tools/run is called from.
pushd "$EXT" >/dev/null
run_once "$STATE/external.out" --redis "redis://127.0.0.1:$EXT_PORT/0" \
  --redis-password-file password
popd >/dev/null
grep -q "existing Redis" "$STATE/external.out" ||
  { cat "$STATE/external.out"; fail "--redis did not say it used the given Redis"; }
[ ! -e "$JALON_VAR_DIR/redis" ] || fail "--redis still started a private Redis"
actions=$(ext_cli zcard jalon:roadmap:index:action)
[ "$actions" -ge 8 ] ||  # the example's 8 actions
  fail "the example roadmap is not in the given Redis ($actions actions)"
grep -q "$(cat "$EXT/password")" "$STATE/external.out" "$JALON_VAR_DIR"/log/* &&
  fail "the given Redis' password was printed or logged"

# The same Redis from another state folder: it has an admin already, whose
# token this run does not hold. A clear refusal, and nothing left running.
expect_refusal "a Redis with another admin" "already has an admin" \
  JALON_VAR_DIR="$STATE/var-external-2" JALON_REDIS_PORT="$(free_port)" -- \
  --redis "redis://127.0.0.1:$EXT_PORT/0" --redis-password-file "$EXT/password"
expect_nothing_left "$STATE/var-external-2" "a refused start"
echo "run_test: ok"
