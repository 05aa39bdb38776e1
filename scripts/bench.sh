#!/usr/bin/env bash
# The benchmark suite behind `make bench`: tcpack, a tokio baseline and the
# tutorial's Python server, side by side on loopback, same scenarios, one run;
# over TCP, then over UDP (tcpack --proto udp, a tokio UdpSocket baseline and
# the tutorial's server as UDP). Prints a table with ratios against tokio and
# stores the JSON in bench/results/.
#
# Usage: scripts/bench.sh [--quick] [--udp-only]
#   --quick: shorter runs, for a smoke test; --udp-only: only the UDP rows
set -euo pipefail

SECS=5; WARM=1; FAIR_N=2000; IDLE_N=100; TCP=true
for arg in "$@"; do
    case "$arg" in
        -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --quick) SECS=1; WARM=0.5; FAIR_N=200; IDLE_N=20 ;;
        --udp-only) TCP=false ;;
        *) echo "usage: $0 [--quick] [--udp-only]" >&2; exit 2 ;;
    esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release --locked --quiet
cargo build --release --locked --quiet --example tokio_baseline
cargo build --release --locked --quiet --example tokio_udp_baseline
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

if $TCP; then
    start tcpack "$tcpack" server --bind 127.0.0.1:0 --framing line --quiet
    start tokio target/release/examples/tokio_baseline 127.0.0.1:0
    start python python3 -u bench/tutorial_server.py 0
fi
# Unlimited: every bench client sends from 127.0.0.1, one address for the rate limit.
start tcpack-udp "$tcpack" server --bind 127.0.0.1:0 --proto udp --quiet --udp-rate 0
start tokio-udp target/release/examples/tokio_udp_baseline 127.0.0.1:0
start python-udp python3 -u bench/tutorial_udp_server.py 0

# run SERVER SCENARIO ARGS...: one bench run, its JSON appended to the results.
run() {
    local server=$1 scenario=$2; shift 2
    echo "bench: $scenario against $server $*" >&2
    "$tcpack" bench "$(cat "$work/$server.addr")" --scenario "$scenario" --json \
        --server-pid "$(cat "$work/$server.pid")" "$@" 2>/dev/null \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); r["server_name"]=sys.argv[1]; r["case"]=sys.argv[2]; print(json.dumps(r))' "$server" "$scenario $*" \
        >>"$work/results.jsonl"
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

if $TCP; then
    idle_cpu tcpack
    idle_cpu tokio
    # Alternating servers within each case spreads the machine's noise over both.
    for server in tcpack tokio; do run "$server" rr -c 64 -d "$SECS" --warmup "$WARM"; done
    for server in tcpack tokio; do run "$server" conn -c 16 -d "$SECS" --warmup "$WARM"; done
    for server in tcpack tokio; do run "$server" pipeline -c 16 --depth 16 -d "$SECS" --warmup "$WARM"; done
    # Counted runs: every message is measured, from the first.
    for server in tcpack tokio python; do run "$server" rr -c 16 -n "$FAIR_N" -d 120 --timeout 120 --warmup 0; done
    for server in tcpack tokio; do run "$server" idle --idle 1000 -n "$IDLE_N" -d 60 --warmup 0; done
fi
idle_cpu tcpack-udp
# 64 client sockets, each waiting for its answer: the UDP twin of rr -c 64.
for server in tcpack-udp tokio-udp python-udp; do run "$server" rr --udp -c 64 -d "$SECS" --warmup "$WARM"; done

mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="bench/results/$stamp.json"
python3 - "$work/results.jsonl" "$out" <<'PY'
import json, os, platform, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
machine = {"cpus": os.cpu_count(), "kernel": platform.release(),
           "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")}
json.dump({"machine": machine, "runs": rows}, open(sys.argv[2], "w"), indent=2)
base = {r["case"]: r for r in rows if r["server_name"] in ("tokio", "tokio-udp")}
print(f"\nmachine: {machine['cpus']} CPUs, {machine['cpu']}, Linux {machine['kernel']}")
print(f"{'case':<44} {'server':<10} {'ops/s':>10} {'p50 µs':>8} {'p99 µs':>8} {'max µs':>9} {'CPU µs/op':>9} {'1st-ack max ms':>14} {'RSS KiB':>8} {'err':>4} {'busy':>4}  vs tokio")
for r in rows:
    if "cpu_ticks" in r:
        print(f"{r['case']:<44} {r['server_name']:<10} idle CPU ticks (1/100 s) over 5 s: {r['cpu_ticks']}")
        continue
    b = base.get(r["case"])
    s = r.get("server") or {}
    ratio = ""
    if b and b is not r:
        bs = b.get("server") or {}
        parts = [f"ops {r['ops_per_sec'] / max(b['ops_per_sec'], 1e-9):.2f}x",
                 f"p99 {r['latency_us']['p99'] / max(b['latency_us']['p99'], 1e-9):.2f}x"]
        if bs.get("cpu_us_per_op"):
            parts.append(f"cpu/op {s.get('cpu_us_per_op', 0) / bs['cpu_us_per_op']:.2f}x")
        if r.get("first_ack_max_ms") and b.get("first_ack_max_ms"):
            parts.append(f"1st-ack {r['first_ack_max_ms'] / b['first_ack_max_ms']:.2f}x")
        ratio = ", ".join(parts)
    first = r.get("first_ack_max_ms")
    first = f"{first:.2f}" if first is not None else "-"
    print(f"{r['case']:<44} {r['server_name']:<10} {r['ops_per_sec']:>10.0f} {r['latency_us']['p50']:>8.1f} "
          f"{r['latency_us']['p99']:>8.1f} {r['latency_us']['max']:>9.1f} {s.get('cpu_us_per_op', 0):>9.2f} {first:>14} "
          f"{s.get('rss_kib', 0):>8} {r['errors'] + r['timeouts']:>4} {r['busy']:>4}  {ratio}")
fair = {r["server_name"]: r for r in rows if r["case"].startswith("rr -c 16 -n")}
if "python" in fair and "tcpack" in fair and fair["tcpack"]["first_ack_max_ms"]:
    print(f"\nfairness (rr, 16 connections): the slowest first ack came "
          f"{fair['python']['first_ack_max_ms'] / fair['tcpack']['first_ack_max_ms']:.0f}x sooner with tcpack than with the tutorial's server")
print(f"\nresults: {sys.argv[2]}")
PY
