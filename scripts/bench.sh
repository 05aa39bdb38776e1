#!/usr/bin/env bash
# The benchmark suite behind `make bench`: tcpack, a tokio baseline and the
# tutorial's Python server, side by side on loopback, same scenarios, one run.
# Prints a table with ratios against tokio and stores the JSON in bench/results/.
#
# Usage: scripts/bench.sh [--quick]     (--quick: shorter runs, for a smoke test)
set -euo pipefail

case "${1:-}" in
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --quick) SECS=1; WARM=0.5; FAIR_N=200; IDLE_N=20 ;;
    "") SECS=5; WARM=1; FAIR_N=2000; IDLE_N=100 ;;
    *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release --locked --quiet
cargo build --release --locked --quiet --example tokio_baseline
tcpack=target/release/tcpack
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# start NAME CMD...: runs a server, waits (bounded) for its "listening on" line.
start() {
    local name=$1; shift
    "$@" >"$work/$name.log" 2>&1 &
    pids+=($!)
    echo $! >"$work/$name.pid"
    for _ in $(seq 100); do
        if grep -q "listening on" "$work/$name.log"; then
            grep -m1 -o "listening on [0-9.:]*" "$work/$name.log" | awk '{print $3}' >"$work/$name.addr"
            return 0
        fi
        kill -0 "$!" 2>/dev/null || break
        sleep 0.1
    done
    echo "error: $name did not start; its log:" >&2
    cat "$work/$name.log" >&2
    exit 1
}

start tcpack "$tcpack" server --bind 127.0.0.1:0 --framing line --quiet
start tokio target/release/examples/tokio_baseline 127.0.0.1:0
start python python3 -u bench/tutorial_server.py 0

# run SERVER SCENARIO ARGS...: one bench run, its JSON appended to the results.
run() {
    local server=$1 scenario=$2; shift 2
    echo "bench: $scenario against $server $*" >&2
    "$tcpack" bench "$(cat "$work/$server.addr")" --scenario "$scenario" --json \
        --server-pid "$(cat "$work/$server.pid")" "$@" 2>/dev/null \
        | python3 bench/table.py --tag "$server" "$scenario $*" >>"$work/results.jsonl"
}

# idle_cpu SERVER: CPU ticks the server used over 5 s of doing nothing.
idle_cpu() {
    local pid before after
    pid=$(cat "$work/$1.pid")
    before=$(awk '{print $14+$15}' "/proc/$pid/stat")
    sleep 5
    after=$(awk '{print $14+$15}' "/proc/$pid/stat")
    echo "{\"server_name\":\"$1\",\"case\":\"idle-cpu 5s\",\"cpu_ticks\":$((after - before))}" >>"$work/results.jsonl"
}

idle_cpu tcpack
idle_cpu tokio
# Alternating servers within each case spreads the machine's noise over both.
for server in tcpack tokio; do run "$server" rr -c 64 -d "$SECS" --warmup "$WARM"; done
for server in tcpack tokio; do run "$server" conn -c 16 -d "$SECS" --warmup "$WARM"; done
for server in tcpack tokio; do run "$server" pipeline -c 16 --depth 16 -d "$SECS" --warmup "$WARM"; done
# Counted runs: every message is measured, from the first.
for server in tcpack tokio python; do run "$server" rr -c 16 -n "$FAIR_N" -d 120 --timeout 120 --warmup 0; done
for server in tcpack tokio; do run "$server" idle --idle 1000 -n "$IDLE_N" -d 60 --warmup 0; done

mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="bench/results/$stamp.json"
python3 bench/table.py "$work/results.jsonl" "$out"
