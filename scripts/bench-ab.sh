#!/usr/bin/env bash
# Before/after: two tcpack builds, same loads, interleaved pinned rounds
# (issue 26's performance bar). Each round runs, for each binary in turn
# (which goes first alternates), `tcpack bench rr -c 64 -n N` against:
#   plain  `tcpack server --framing line --quiet`
#   tls    the same with a certificate made for the run (ECDSA P-256, as
#          --tls-self-signed makes), the bench with --tls --insecure
#   relay  `tcpack relay --framing line --quiet` in front of that binary's
#          plain server
# Servers and relays on CPU 0, the load on CPU 1 (where there are two CPUs).
# Per run: messages/s (the bench's report), CPU per message of the server
# process(es) (utime + stime from /proc/PID/stat; relay and its server
# summed) and context switches per message (/proc/PID/task/*/status).
# Prints per mode the AFTER/BEFORE ratio's median and [range] over the
# rounds, and stores every run as a JSON line in bench/results/.
#
# Usage: scripts/bench-ab.sh BEFORE_BIN AFTER_BIN [ROUNDS]
#   ROUNDS: default 5; N=messages per connection (default 1500, 96,000 a run);
#   MODES="plain tls relay" (the default) picks the modes.
# `make bench-ab BEFORE=... AFTER=...` runs it. BEFORE=AFTER shows the
# noise floor (every ratio should be near 1.00).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/common.sh
source scripts/common.sh

case "${1:-}" in -h|--help) show_help; exit 0 ;; esac
[ $# -ge 2 ] && [ $# -le 3 ] || usage_error "expected BEFORE_BIN AFTER_BIN [ROUNDS], got $# arguments"
declare -A bin=([before]=$1 [after]=$2)
rounds=${3:-5}
check_count ROUNDS "$rounds" 100
msgs=${N:-1500}
check_count N "$msgs" 1000000
modes=${MODES:-plain tls relay}
for mode in $modes; do
    case "$mode" in plain|tls|relay) ;; *) usage_error "unknown mode '$mode' in MODES (plain, tls, relay)" ;; esac
done
for side in before after; do
    [ -x "${bin[$side]}" ] || die "${bin[$side]} ($side) is not an executable file"
    bin[$side]=$(cd "$(dirname "${bin[$side]}")" && pwd)/$(basename "${bin[$side]}")
done
pin_cores "load (tcpack bench of BEFORE)"
make_workdir
make_test_cert


for side in before after; do
    b=${bin[$side]}
    serve "$side-plain" "$b" server --bind 127.0.0.1:0 --framing line --quiet
    serve "$side-tls" "$b" server --bind 127.0.0.1:0 --framing line --quiet \
        --tls-cert "$work/tls.pem" --tls-key "$work/tls.key"
    serve "$side-relay" "$b" relay --bind 127.0.0.1:0 --to "${addr[$side-plain]}" --framing line --quiet
done

# cpu_ticks PID...: utime + stime of the processes, summed (1/100 s).
cpu_ticks() {
    local p total=0
    for p in "$@"; do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    echo "$total"
}
# switches PID...: voluntary + involuntary context switches so far, all threads.
switches() {
    local p
    for p in "$@"; do cat /proc/"$p"/task/*/status 2>/dev/null; done \
        | awk '/ctxt_switches/ { s += $2 } END { print s + 0 }'
}

# run ROUND SIDE MODE: one bench run; appends its JSON line to $work/ab.jsonl.
run() {
    local number=$1 side=$2 mode=$3 target pids tls=() t0 t1 s0 s1
    target=${addr[$side-$mode]}
    pids=("${pid[$side-$mode]}")
    [ "$mode" != relay ] || pids+=("${pid[$side-plain]}")
    [ "$mode" != tls ] || tls=(--tls --insecure)
    echo "bench-ab: round $number/$rounds, $mode, $side" >&2
    t0=$(cpu_ticks "${pids[@]}") s0=$(switches "${pids[@]}")
    "${on_client[@]}" "${bin[before]}" bench "$target" --scenario rr -c 64 -n "$msgs" \
        -d 120 --timeout 60 --warmup 0 --json "${tls[@]}" >"$work/run.json" 2>"$work/run.err" \
        || { cat "$work/run.err" >&2; die "bench against $side $mode failed"; }
    t1=$(cpu_ticks "${pids[@]}") s1=$(switches "${pids[@]}")
    python3 - "$work/run.json" "$number" "$side" "$mode" "${bin[$side]}" "$((t1 - t0))" "$((s1 - s0))" \
        >>"$work/ab.jsonl" <<'PY'
import json, sys
path, number, side, mode, binary, ticks, switches = sys.argv[1:]
with open(path) as file:
    report = json.load(file)
done = max(report["ops"], 1)
print(json.dumps({
    "round": int(number), "side": side, "mode": mode, "binary": binary,
    "case": "rr -c 64", "messages": report["ops"],
    "errors": report["errors"] + report["timeouts"],
    "msgs_per_s": report["ops_per_sec"],
    "cpu_us_per_msg": int(ticks) * 10_000 / done,
    "switches_per_msg": int(switches) / done,
}))
PY
}

for ((r = 1; r <= rounds; r++)); do
    # Interleaved: per mode, both binaries, the first one alternating by round.
    if ((r % 2)); then sides=(before after); else sides=(after before); fi
    for mode in $modes; do
        for side in "${sides[@]}"; do run "$r" "$side" "$mode"; done
    done
done

mkdir -p bench/results
out="bench/results/$(date -u +%Y%m%dT%H%M%SZ)-ab.jsonl"
cp "$work/ab.jsonl" "$out"
echo "before: ${bin[before]}"
echo "after:  ${bin[after]}"
echo "rounds: $rounds of rr -c 64 -n $msgs per binary and mode, $pinned"
python3 bench/ab_table.py "$out"
