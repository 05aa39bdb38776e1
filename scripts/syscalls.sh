#!/usr/bin/env bash
# System calls per message on the server, per mode: starts a release server
# for each mode (plain, 20 rules as in make bench, TLS), runs `tcpack bench`
# rr against it with `strace -c -f` attached to the server, and prints a
# table of calls per message. Connection set-up is counted too, spread over
# the messages (C connections x N messages each).
#
# Before strace attaches, C connections of 10 messages each warm the
# server up as a running server is: each worker's first connection with
# rules builds its regex caches (glibc grows the thread's arena a page at
# a time, ~28 mprotect), once for the server's life. COLD=1 skips it, so
# those first-use costs are counted too.
#
# Usage: scripts/syscalls.sh [C] [N]
#   C: connections (default 16), N: messages per connection (default 2000);
#   MODES="plain rules20 tls" (the default) picks the modes, of plain,
#   rules20, tls, tokio (examples/tokio_baseline.rs), tokio-tls
#   (examples/tokio_tls_baseline.rs) and tls-conn, tokio-tls-conn: C x N
#   full TLS handshakes (`--scenario conn`), counted per handshake; COLD=1
#   (above); TCPACK and EXAMPLES name the binaries (default target/release,
#   built first).
# Needs strace (apt-get install strace) and permission to trace the server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/common.sh
source scripts/common.sh

conns=16 msgs=2000
case "${1:-}" in -h|--help) show_help; exit 0 ;; esac
[ $# -le 2 ] || usage_error "expected at most C and N, got $# arguments"
[ $# -lt 1 ] || { check_count connections "$1" 1024; conns=$1; }
[ $# -lt 2 ] || { check_count messages "$2" 1000000; msgs=$2; }
command -v strace >/dev/null 2>&1 || die "strace is not installed: apt-get install strace"

if [ -z "${TCPACK:-}" ] && [ -z "${EXAMPLES:-}" ]; then
    cargo build --release --locked --quiet --bin tcpack --example tokio_tls_baseline --example tokio_baseline
fi
tcpack=${TCPACK:-target/release/tcpack}
examples=${EXAMPLES:-target/release/examples}
make_workdir
make_test_cert

total=$((conns * msgs))
# all_traced PID: whether a tracer is attached to every thread of PID.
all_traced() {
    ! grep -q 'TracerPid:[[:space:]]*0$' /proc/"$1"/task/*/status
}
# switches PID: context switches so far, summed over PID's threads.
switches() {
    cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { print s }'
}
# settle PID: waits (bounded, 10 s) until no thread of PID has switched for
# 0.2 s. The server says "listening" before its 2048 workers have all
# parked; attached earlier, strace counts their start-up (each takes the
# pool's and the registry's lock in turn, a convoy of ~5000 futex calls,
# 0.6 per message at 16 x 500) as if the messages had cost it.
settle() {
    local before after
    before=$(switches "$1")
    for _ in $(seq 50); do
        sleep 0.2
        after=$(switches "$1")
        [ "$after" != "$before" ] || return 0
        before=$after
    done
    die "the server's threads did not settle within 10 s"
}
# count MODE SCENARIO BENCH_FLAGS -- SERVER_FLAGS...: one mode's calls per
# message (rr) or handshake (conn), as lines of "MODE SYSCALL CALLS_PER_OP".
# SERVER_FLAGS "tokio-tls" starts examples/tokio_tls_baseline.rs instead.
count() {
    local mode=$1 scenario=$2 bench_flags=$3 strace_pid
    shift 4
    if [ "${1:-}" = tokio-tls ]; then
        start_listening "$work/$mode.log" "$examples/tokio_tls_baseline" \
            127.0.0.1:0 "$work/tls.pem" "$work/tls.key"
    elif [ "${1:-}" = tokio ]; then
        start_listening "$work/$mode.log" "$examples/tokio_baseline" 127.0.0.1:0
    else
        start_server "$work/$mode.log" --framing line --quiet "$@"
    fi
    if [ -z "${COLD:-}" ]; then
        # shellcheck disable=SC2086 # bench_flags is a list of flags
        "$tcpack" bench "127.0.0.1:$port" --scenario "$scenario" -c "$conns" -n 10 \
            -d 600 --timeout 60 --warmup 0 $bench_flags >"$work/$mode.warm" 2>&1 \
            || { cat "$work/$mode.warm" >&2; die "the warm-up against $mode failed"; }
    fi
    settle "$server_pid"
    strace -c -f -p "$server_pid" -o "$work/$mode.strace" 2>"$work/$mode.strace.err" &
    strace_pid=$!
    # strace says nothing when it is attached: wait until every thread is traced.
    wait_until "strace to attach" all_traced "$server_pid"
    # shellcheck disable=SC2086 # bench_flags is a list of flags
    "$tcpack" bench "127.0.0.1:$port" --scenario "$scenario" -c "$conns" -n "$msgs" \
        -d 600 --timeout 60 --warmup 0 $bench_flags >"$work/$mode.bench" 2>&1 \
        || { cat "$work/$mode.bench" >&2; die "bench against $mode failed"; }
    kill -INT "$strace_pid"
    wait "$strace_pid" || true
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    awk -v mode="$mode" -v total="$total" '
        $NF ~ /^[a-z_0-9]+$/ && $(NF) != "total" && $4 ~ /^[0-9]+$/ {
            printf "%s %s %.3f\n", mode, $NF, $4 / total
        }' "$work/$mode.strace"
}

for mode in ${MODES:-plain rules20 tls}; do
    case "$mode" in
        plain) count plain rr "" -- ;;
        rules20) count rules20 rr "" -- --rules bench/rules20.toml ;;
        tls) count tls rr "--tls --insecure" -- --tls-cert "$work/tls.pem" --tls-key "$work/tls.key" ;;
        tokio) count tokio rr "" -- tokio ;;
        tokio-tls) count tokio-tls rr "--tls --insecure" -- tokio-tls ;;
        # A full handshake per connection (the bench resumes no session).
        tls-conn) count tls-conn conn "--tls --insecure" -- --tls-cert "$work/tls.pem" --tls-key "$work/tls.key" ;;
        tokio-tls-conn) count tokio-tls-conn conn "--tls --insecure" -- tokio-tls ;;
        *) usage_error "unknown mode '$mode' in MODES (plain, rules20, tls, tokio, tokio-tls, tls-conn, tokio-tls-conn)" ;;
    esac
done >"$work/counts"

warm="after a warm-up of $conns x 10 messages"
[ -z "${COLD:-}" ] || warm="cold: a fresh server"
echo "system calls per message (per handshake in -conn modes) on the server (tcpack bench --scenario rr, conn in -conn modes, -c $conns -n $msgs, --framing line --quiet; strace -c -f; $warm)"
python3 - "$work/counts" <<'PY'
import sys
modes, table = [], {}
for line in open(sys.argv[1]):
    mode, call, per = line.split()
    if mode not in modes:
        modes.append(mode)
    table.setdefault(call, {})[mode] = float(per)
# Calls that round to 0.00 in every mode are connection set-up or noise.
calls = sorted((c for c, v in table.items() if max(v.values()) >= 0.005),
               key=lambda c: -max(table[c].values()))
print("| system call | " + " | ".join(modes) + " |")
print("|---|" + "---:|" * len(modes))
for c in calls:
    print(f"| `{c}` | " + " | ".join(f"{table[c].get(m, 0):.2f}" for m in modes) + " |")
totals = [sum(v.get(m, 0) for v in table.values()) for m in modes]
print("| all | " + " | ".join(f"{t:.2f}" for t in totals) + " |")
PY
