#!/bin/sh
#
# bench/loader.sh: how fast pz-load builds a store, against the stock
# mdb_load (Debian lmdb-utils) loading the very same records.
#
#     N=10000000 BUILD=build sh bench/loader.sh
#
# Generates N synthetic profiles (id, 3 aliases, 5 segments, 12 scalar
# fields) as JSON lines sorted by id, and the same profiles shuffled; times
#   1. pz-load -R (full replace into a fresh generation) on the sorted lines,
#   2. the same on the shuffled lines,
#   3. stock mdb_load on an mdb_dump of the store of 1 (the same keys and
#      values: profiles, aliases, meta), within MDB_LOAD_TIMEOUT seconds;
#      if it runs out of time its rate is taken from the entries it
#      committed (it commits every 100 records),
# and prints profiles/s, the ratio and the peak RSS of each.
#
# Environment: N (profiles, default 10000000), BUILD (build directory,
# default build), WORK (scratch directory, default a new one under
# /var/tmp, removed at the end), MDB_LOAD_TIMEOUT (default 900).
# Needs about 5 KiB of disk per profile.

set -eu

N=${N:-10000000}
BUILD=${BUILD:-build}
MDB_LOAD_TIMEOUT=${MDB_LOAD_TIMEOUT:-900}
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=$TOP/$BUILD/bin

case $BUILD in /*) BIN=$BUILD/bin ;; esac

if [ ! -x "$BIN/pz-load" ]; then
    echo "loader.sh: $BIN/pz-load missing; run make BUILD=$BUILD tools" >&2
    exit 1
fi

OWNWORK=
if [ -z "${WORK:-}" ]; then
    WORK=$(mktemp -d /var/tmp/pz-loader.XXXXXX)
    OWNWORK=1
fi

cleanup() {
    [ -n "$OWNWORK" ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() {
    printf '%s\n' "$*"
}

# seconds, peak RSS (KiB) and CPU seconds of a command, into $secs, $rss
# and $cpu; on a busy machine the CPU time is the steadier figure
# returns the command's exit status
timed() {
    timed_status=0
    /usr/bin/time -f '%e %M %U %S' -o "$WORK/time" "$@" || timed_status=$?
    # a command that failed adds a "Command exited with ..." line first
    read -r secs rss usr sys <<END
$(tail -n 1 "$WORK/time")
END
    cpu=$(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.1f", u + s }')
    return $timed_status
}

rate() {
    awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'
}

cc -O2 -o "$WORK/gen" "$TOP/bench/loader-gen.c"

cat > "$WORK/schema.json" <<'EOF'
{"segments": "list", "first_name": "string", "last_name": "string",
 "city": "string", "favourite_size": "string", "nearest_store": "string",
 "orders": "int", "points": "int", "clv": "decimal", "avg_order": "decimal",
 "last_order_at": "time", "first_seen_at": "time",
 "cart_abandoned_at": "time"}
EOF

say "# loader benchmark: $N profiles, $(nproc) CPUs, $(date -u +%FT%TZ)"

"$WORK/gen" "$N" > "$WORK/sorted.jsonl"
say "input: $(du -h "$WORK/sorted.jsonl" | cut -f1) of JSON lines"

# 1. sorted

timed "$BIN/pz-load" -q -R -G 0 -d "$WORK/store" -s "$WORK/schema.json" \
    "$WORK/sorted.jsonl"
pz_secs=$secs
pz_cpu=$cpu
say "pz-load sorted:   $secs s, $(rate "$N" "$secs") profiles/s," \
    "CPU $cpu s, peak RSS $((rss / 1024)) MiB," \
    "store $(du -shL "$WORK/store/" | cut -f1)"

# 2. unsorted

rm -f "$WORK/sorted.jsonl"
"$WORK/gen" "$N" 7 > "$WORK/unsorted.jsonl"

timed "$BIN/pz-load" -q -R -G 0 -d "$WORK/ustore" -s "$WORK/schema.json" \
    "$WORK/unsorted.jsonl"
say "pz-load unsorted: $secs s, $(rate "$N" "$secs") profiles/s," \
    "CPU $cpu s, peak RSS $((rss / 1024)) MiB" \
    "($(awk -v a="$secs" -v b="$pz_secs" 'BEGIN { printf "%.2f", a / b }')x" \
    "the sorted time)"

rm -rf "$WORK/unsorted.jsonl" "$WORK"/ustore*

# 3. stock mdb_load on the same records

mdb_dump -a -f "$WORK/store.dump" "$WORK/store"
records=$(mdb_stat -a "$WORK/store" \
          | awk '/Entries:/ { n += $2 } END { print n }')
mkdir "$WORK/mdbload"

set +e
timed timeout "$MDB_LOAD_TIMEOUT" mdb_load -f "$WORK/store.dump" \
    "$WORK/mdbload" 2>/dev/null
status=$?
set -e

loaded=$(mdb_stat -a "$WORK/mdbload" 2>/dev/null \
         | awk '/Entries:/ { n += $2 } END { print n + 0 }')

if [ "$status" -eq 0 ]; then
    ml_secs=$secs
    say "mdb_load:         $secs s for $records records" \
        "($(rate "$N" "$secs") profiles/s), CPU $cpu s," \
        "peak RSS $((rss / 1024)) MiB"
else
    # out of time: the pace so far, over all the records
    ml_secs=$(awk -v s="$secs" -v l="$loaded" -v r="$records" \
              'BEGIN { printf "%.1f", (l > 0 ? s * r / l : 0) }')
    say "mdb_load:         stopped after $secs s (CPU $cpu s) with" \
        "$loaded of $records records; at that pace $ml_secs s" \
        "($(rate "$N" "$ml_secs") profiles/s)"
fi

say "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
say "ratio pz-load / mdb_load: $(awk -v a="$pz_secs" -v b="$ml_secs" \
    'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')" \
    "(target: at most 3; pz-load target: at most 60 s for 10 million)"
