#!/bin/sh
# Profiles one benchmark scenario with perf: starts the nginx instance that
# bench.pl configured (BUILD/bench/run/NAME, default "on" = scenarios 3
# and 4), loads it with wrk for SECONDS, records the worker's call stacks
# and prints the top of the report.  Run make bench (or a quick run with
# BENCH_* sizes) first.
#
#   sh bench/perf.sh [NAME] [SECONDS]       BUILD=build-x sh bench/perf.sh on 10
#   WARM=seconds of wrk before recording (10); BENCH_IDS, BENCH_COOKIE as
#   for bench/visitor.lua

set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
NAME=${1:-on}
SECS=${2:-10}
RUN=$BUILD/bench/run/$NAME
NGINX=${NGINX_BIN:-/usr/sbin/nginx}

[ -f "$RUN/nginx.conf" ] || { echo "perf.sh: no $RUN/nginx.conf: run bench first" >&2; exit 1; }
command -v perf >/dev/null || { echo "perf.sh: perf is missing (apt-get install linux-perf)" >&2; exit 1; }

"$NGINX" -p "$RUN/" -c "$RUN/nginx.conf"
trap 'kill -QUIT $(cat "$RUN/nginx.pid") 2>/dev/null || true' EXIT INT TERM
sleep 0.5

master=$(cat "$RUN/nginx.pid")
worker=$(pgrep -P "$master" | head -1)
port=$(sed -n 's/.*listen 127.0.0.1:\([0-9]*\).*/\1/p' "$RUN/nginx.conf" | head -1)

# warm up first: the worker maps the store's pages as visitors come by
WARM=${WARM:-10}
BENCH_IDS=${BENCH_IDS:-${BENCH_PROFILES:-1000000}} \
    taskset -c 1 wrk -t1 -c32 -d${WARM}s -s "$TOP/bench/visitor.lua" \
    "http://127.0.0.1:$port/" > "$RUN/perf-warm.txt" 2>&1

BENCH_IDS=${BENCH_IDS:-${BENCH_PROFILES:-1000000}} \
    taskset -c 1 wrk -t1 -c32 -d$((SECS + 2))s -s "$TOP/bench/visitor.lua" \
    "http://127.0.0.1:$port/" > "$RUN/perf-wrk.txt" 2>&1 &
wrkpid=$!
sleep 1
perf record -q -g -p "$worker" -o "$RUN/perf.data" -- sleep "$SECS" 2>/dev/null
wait $wrkpid || true
grep 'Requests/sec' "$RUN/perf-wrk.txt" || cat "$RUN/perf-wrk.txt"
perf report -i "$RUN/perf.data" --no-children --stdio --percent-limit 0.7 \
    -g none --sort dso,symbol 2>/dev/null | grep -v '^$' | grep -v '^#' | grep '%' | head -50
