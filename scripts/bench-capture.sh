#!/usr/bin/env bash
# What capturing and replaying cost (docs/capture.md), in interleaved rounds
# on loopback, the server on CPU 0 and the load on CPU 1 (as scripts/bench.sh):
#   1. rr -c 64 against `tcpack server` without and with `--capture`:
#      the ratio of msgs/s per round.
#   2. `tcpack replay --speed max` of a transcript of 64 connections and
#      about 100,000 client messages, against `tcpack bench` rr with the same
#      connections and messages: the ratio of msgs/s per round.
# Prints each round and the median and range of the ratios, with the load
# average before and after (the machine may be shared).
#
# Usage: scripts/bench-capture.sh [ROUNDS]   (default 5)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/common.sh
source scripts/common.sh
case "${1:-}" in -h|--help) show_help; exit 0 ;; esac
ROUNDS=${1:-5}
check_count ROUNDS "$ROUNDS" 50
N=1563   # messages per connection: 64 x 1563 = 100,032
pin_cores "load"
cargo build --release --locked --quiet
tcpack=${CARGO_TARGET_DIR:-target}/release/tcpack
make_workdir

declare -A addr
serve() {
    local name=$1
    shift
    start_listening "$work/$name.log" "${on_server[@]}" "$@"
    addr[$name]=127.0.0.1:$port
}
serve plain "$tcpack" server --bind 127.0.0.1:0 --framing line --quiet
serve capture "$tcpack" server --bind 127.0.0.1:0 --framing line --quiet --capture "$work/rr.jsonl"
serve target "$tcpack" server --bind 127.0.0.1:0 --framing line --quiet

# rr SERVER: msgs/s of one rr -c 64 run.
rr() {
    "${on_client[@]}" "$tcpack" bench "${addr[$1]}" -c 64 -n "$N" -d 120 --warmup 0 --json 2>/dev/null \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["ops_per_sec"])'
}

# The transcript to replay: rr -c 64 -n N through a capturing server.
serve record "$tcpack" server --bind 127.0.0.1:0 --framing line --quiet --capture "$work/replay.jsonl"
rr record >/dev/null
messages=$(grep -c '"from":"client"' "$work/replay.jsonl" || true)

# replay: client msgs/s of one replay --speed max.
replay() {
    local start end
    start=$(date +%s.%N)
    "${on_client[@]}" "$tcpack" replay "$work/replay.jsonl" --to "${addr[target]}" --speed max >"$work/replay.out"
    end=$(date +%s.%N)
    grep -q "64 same, 0 differ" "$work/replay.out" || die "replay differed: $(tail -1 "$work/replay.out")"
    python3 -c "import sys; print($messages / ($end - $start))"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $pinned; $ROUNDS rounds"
capture_ratios=() replay_ratios=()
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then a=$(rr plain); b=$(rr capture); else b=$(rr capture); a=$(rr plain); fi
    ratio=$(python3 -c "print(f'{$b / $a:.3f}')")
    capture_ratios+=("$ratio")
    if ((r % 2)); then c=$(rr target); d=$(replay); else d=$(replay); c=$(rr target); fi
    ratio2=$(python3 -c "print(f'{$d / $c:.3f}')")
    replay_ratios+=("$ratio2")
    printf 'round %d: rr %.0f msgs/s, with --capture %.0f (x%s); bench %.0f msgs/s, replay of %d messages %.0f (x%s)\n' \
        "$r" "$a" "$b" "$ratio" "$c" "$messages" "$d" "$ratio2"
done
summary() {
    python3 -c 'import statistics, sys; v = sorted(map(float, sys.argv[2:])); print(f"{sys.argv[1]}: median x{statistics.median(v):.3f}, range x{v[0]:.3f}..x{v[-1]:.3f}")' "$@"
}
summary "--capture vs none, rr -c 64" "${capture_ratios[@]}"
summary "replay --speed max vs bench rr -c 64" "${replay_ratios[@]}"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
