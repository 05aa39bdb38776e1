#!/usr/bin/env bash
# Whether sharding costs anything by itself (issue 28, docs/bench.md): one
# tcpack server on CPU 0; on CPU 1 either one `tcpack bench -c 64` or four
# shards of it (`--shard I/4`, 16 connections each, one `--start-at`, each
# writing `--hdr-log`), merged with `tcpack bench merge`. Interleaved rounds
# (the order swaps each round); prints each round's messages/s both ways
# and the median and range of the ratio sharded / unsharded.
#
# Usage: scripts/bench-shards.sh [ROUNDS]   (default 5; D=seconds per run, default 5)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/common.sh
source scripts/common.sh
case "${1:-}" in -h|--help) show_help; exit 0 ;; esac
ROUNDS=${1:-5}
check_count ROUNDS "$ROUNDS" 50
D=${D:-5}
check_count D "$D" 600
pin_cores "load"
cargo build --release --locked --quiet
tcpack=${CARGO_TARGET_DIR:-target}/release/tcpack
make_workdir

start_listening "$work/server.log" "${on_server[@]}" "$tcpack" server --bind 127.0.0.1:0 --quiet
addr=127.0.0.1:$port

# "ops/s ops" of a bench report or of a merge (whose --json is a list of one).
ops_per_sec() {
    python3 -c 'import json, sys; r = json.load(sys.stdin); r = r[0] if isinstance(r, list) else r; assert r["errors"] == 0, r; print(r["ops_per_sec"], r["ops"])'
}

whole() {
    "${on_client[@]}" "$tcpack" bench "$addr" -c 64 -d "$D" --warmup 0 --json 2>/dev/null | ops_per_sec
}

sharded() {
    local at=$(($(date +%s) + 2)) i
    rm -f "$work"/shard*.hlog
    for i in 0 1 2 3; do
        "${on_client[@]}" "$tcpack" bench "$addr" -c 64 -d "$D" --warmup 0 --shard "$i/4" \
            --start-at "$at" --hdr-log "$work/shard$i.hlog" --quiet >/dev/null &
    done
    wait
    "$tcpack" bench merge "$work"/shard*.hlog --json | ops_per_sec
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $pinned; $ROUNDS rounds of $D s, -c 64"
ratios=()
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then read -r a _ < <(whole); read -r b n < <(sharded)
    else read -r b n < <(sharded); read -r a _ < <(whole); fi
    ratios+=("$(python3 -c "print(f'{$b / $a:.3f}')")")
    printf 'round %d: one bench %.0f msgs/s, 4 shards merged %.0f msgs/s (%d messages): x%s\n' \
        "$r" "$a" "$b" "$n" "${ratios[-1]}"
done
python3 -c 'import statistics, sys; v = sorted(map(float, sys.argv[1:])); print(f"4 shards vs one bench, msgs/s: median x{statistics.median(v):.3f}, range x{v[0]:.3f}..x{v[-1]:.3f}")' "${ratios[@]}"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
