#!/usr/bin/env bash
# Where TLS's CPU goes (issue 29), against tokio and tokio-rustls, in one
# run: four servers, started once, pinned to CPU 0 (the load on CPU 1):
#   plain      tcpack server --framing line --quiet
#   tls        the same with a certificate made for the run (ECDSA P-256)
#   tokio      examples/tokio_baseline.rs
#   tokio-tls  examples/tokio_tls_baseline.rs (same certificate, rustls, ring)
# Each round runs `tcpack bench rr -c 64 -n N` against each server in turn
# (the first server rotating), then `conn -c 16 -n H` (full handshakes)
# against the two TLS servers, with `perf stat -e
# task-clock,context-switches,cpu-migrations -p PID` attached to the server
# around the run (software counters: they need no PMU), and the server's
# user and system time from /proc/PID/stat. Prints, per round and as the
# median [range]: CPU and context switches per message, tcpack/tokio ratios
# plain and TLS, and TLS's extra over plain for each (TLS − plain, µs and
# switches per message), then per handshake. Stores the JSON lines in
# bench/results/.
#
# Usage: scripts/tls-costs.sh [ROUNDS]
#   ROUNDS: default 5; N: messages per connection (default 1500); H:
#   handshakes per connect loop (default 100, 1600 a run); TCPACK (default
#   target/release/tcpack) and EXAMPLES (default target/release/examples)
#   name the binaries, built first when they are the defaults.
# Needs perf (linux-perf) and permission to attach to the servers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/common.sh
source scripts/common.sh

case "${1:-}" in -h|--help) show_help; exit 0 ;; esac
[ $# -le 1 ] || usage_error "expected at most ROUNDS, got $# arguments"
rounds=${1:-5}
check_count ROUNDS "$rounds" 100
msgs=${N:-1500}
check_count N "$msgs" 1000000
handshakes=${H:-100}
check_count H "$handshakes" 100000
command -v perf >/dev/null 2>&1 || die "perf is not installed: apt-get install linux-perf"
if [ -z "${TCPACK:-}" ] && [ -z "${EXAMPLES:-}" ]; then
    cargo build --release --locked --quiet --bin tcpack --example tokio_baseline --example tokio_tls_baseline
fi
tcpack=${TCPACK:-target/release/tcpack}
examples=${EXAMPLES:-target/release/examples}
for b in "$tcpack" "$examples/tokio_baseline" "$examples/tokio_tls_baseline"; do
    [ -x "$b" ] || die "$b is not an executable file"
done
pin_cores "load generator"
make_workdir
make_test_cert

serve plain "$tcpack" server --bind 127.0.0.1:0 --framing line --quiet
serve tls "$tcpack" server --bind 127.0.0.1:0 --framing line --quiet --tls-cert "$work/tls.pem" --tls-key "$work/tls.key"
serve tokio "$examples/tokio_baseline" 127.0.0.1:0
serve tokio-tls "$examples/tokio_tls_baseline" 127.0.0.1:0 "$work/tls.pem" "$work/tls.key"

# attached PERF_PID PID EVENTS: whether perf holds EVENTS counters per thread of PID.
attached() {
    local threads counters
    threads=$(find /proc/"$2"/task -mindepth 1 -maxdepth 1 | wc -l)
    counters=$(find /proc/"$1"/fd -lname 'anon_inode:*perf_event*' 2>/dev/null | wc -l)
    [ "$counters" -ge $((threads * $3)) ]
}

# run ROUND SERVER SCENARIO BENCH_ARGS...: one measured run, a JSON line in $work/runs.jsonl.
run() {
    local number=$1 server=$2 scenario=$3 perf_pid u0 u1 tls=()
    shift 3
    case "$server" in tls|tokio-tls) tls=(--tls --insecure) ;; esac
    echo "tls-costs: round $number/$rounds, $scenario against $server" >&2
    perf stat -x, -e task-clock,context-switches,cpu-migrations -p "${pid[$server]}" \
        -o "$work/perf.csv" 2>"$work/perf.err" &
    perf_pid=$!
    # perf says nothing once attached: wait (bounded) until it holds a
    # counter per event for every thread (2048 workers take it a while).
    wait_until "perf stat to attach" attached "$perf_pid" "${pid[$server]}" 3
    u0=$(awk '{print $14, $15}' "/proc/${pid[$server]}/stat")
    "${on_client[@]}" "$tcpack" bench "${addr[$server]}" --scenario "$scenario" "$@" \
        -d 120 --timeout 60 --warmup 0 --json "${tls[@]}" >"$work/run.json" 2>"$work/run.err" \
        || { cat "$work/run.err" >&2; die "bench $scenario against $server failed"; }
    u1=$(awk '{print $14, $15}' "/proc/${pid[$server]}/stat")
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
    python3 - "$work/run.json" "$work/perf.csv" "$number" "$server" "$scenario" "$u0" "$u1" \
        >>"$work/runs.jsonl" <<'PY'
import json, sys
report_path, perf_path, number, server, scenario, u0, u1 = sys.argv[1:]
with open(report_path) as file:
    report = json.load(file)
counters = {}
with open(perf_path) as file:
    for line in file:
        parts = line.strip().split(",")
        if len(parts) > 2 and not line.startswith("#"):
            try:
                counters[parts[2]] = float(parts[0])
            except ValueError:
                pass
ops = max(report["ops"], 1)
(user0, sys0), (user1, sys1) = [map(int, u.split()) for u in (u0, u1)]
print(json.dumps({
    "round": int(number), "server": server, "scenario": scenario, "ops": report["ops"],
    "errors": report["errors"] + report["timeouts"], "ops_per_sec": report["ops_per_sec"],
    # task-clock is in ms: µs per op.
    "cpu_us": counters.get("task-clock", 0) * 1000 / ops,
    "user_us": (user1 - user0) * 10_000 / ops, "sys_us": (sys1 - sys0) * 10_000 / ops,
    "switches": counters.get("context-switches", 0) / ops,
    "migrations": counters.get("cpu-migrations", 0) / ops,
}))
PY
    rm -f "$work/perf.csv"
}

servers=(plain tls tokio tokio-tls)
for ((r = 1; r <= rounds; r++)); do
    shift_by=$(((r - 1) % ${#servers[@]}))
    order=("${servers[@]:shift_by}" "${servers[@]:0:shift_by}")
    for server in "${order[@]}"; do run "$r" "$server" rr -c 64 -n "$msgs"; done
    if ((r % 2)); then pair=(tls tokio-tls); else pair=(tokio-tls tls); fi
    for server in "${pair[@]}"; do run "$r" "$server" conn -c 16 -n "$handshakes"; done
done

mkdir -p bench/results
out="bench/results/$(date -u +%Y%m%dT%H%M%SZ)-tls-costs.jsonl"
cp "$work/runs.jsonl" "$out"
echo "rounds: $rounds; rr -c 64 -n $msgs, conn -c 16 -n $handshakes; $pinned; load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 bench/tls_costs_table.py "$out"
