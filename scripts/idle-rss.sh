#!/usr/bin/env bash
# RSS of a release server holding N served-but-idle connections: each sends
# one line, waits for its answer, then stays open and silent. Prints the
# server's VmRSS (from /proc) before any connection and with all N held,
# per case: raw framing, line framing, TLS (line), with the default workers,
# and of each connection's share what is thread stack and what malloc heap
# (from /proc/PID/smaps).
#
# Usage: scripts/idle-rss.sh [N]     (default 1000)
#   CASES="raw line tls" (the default) picks the cases; SERVER_ARGS adds
#   flags; TCPACK=PATH measures that binary instead of this tree's.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/common.sh
source scripts/common.sh

count=1000
case "${1:-}" in -h|--help) show_help; exit 0 ;; esac
[ $# -le 1 ] || usage_error "expected at most N, got $# arguments"
[ $# -lt 1 ] || { check_count connections "$1" 20000; count=$1; }
# The server raises its own open-file limit; the clients need theirs raised too.
ulimit -n "$(( count + 1024 > $(ulimit -Hn) ? $(ulimit -Hn) : count + 1024 ))"

# TCPACK=PATH measures that binary instead of building this tree's.
[ -n "${TCPACK:-}" ] || cargo build --release --locked --quiet
make_workdir
make_test_cert

# ready_or_gone FILE PID: whether the clients said "ready", or have exited.
ready_or_gone() {
    grep -q ready "$1" || ! kill -0 "$2" 2>/dev/null
}

rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# rss_parts PID: "STACKS HEAP REST" in KiB, from /proc/PID/smaps: the
# workers' 256 KiB stacks, the malloc heap (brk's [heap] and glibc's
# per-thread arenas, anonymous mappings aligned to their 64 MiB), the rest
# (binary, libraries, the main stack).
rss_parts() {
    python3 - "/proc/$1/smaps" <<'PY'
import re, sys
kib, kind = {"stacks": 0, "heap": 0, "rest": 0}, "rest"
for line in open(sys.argv[1]):
    m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)", line)
    if m:
        start, end = int(m[1], 16), int(m[2], 16)
        anon_rw = m[3] == "rw-p" and not m[4]
        kind = "rest"
        if m[4] == "[heap]" or (anon_rw and start % (64 << 20) == 0):
            kind = "heap"
        elif anon_rw and end - start == 256 << 10:
            kind = "stacks"
    elif line.startswith("Rss:"):
        kib[kind] += int(line.split()[1])
print(kib["stacks"], kib["heap"], kib["rest"])
PY
}

# measure CASE CLIENT_FLAGS SERVER_FLAGS...: one line of the table.
measure() {
    local name=$1 client_flags=$2 before after held
    shift 2
    # shellcheck disable=SC2086 # SERVER_ARGS is a list of flags
    start_server "$work/$name.log" --quiet "$@" ${SERVER_ARGS:-}
    before=$(rss_kib "$server_pid")
    read -r stacks_before heap_before _ < <(rss_parts "$server_pid")
    # shellcheck disable=SC2086 # client_flags is a list of flags
    python3 bench/idle_clients.py 127.0.0.1 "$port" "$count" $client_flags \
        </dev/null >"$work/$name.clients" 2>&1 &
    held=$!
    for _ in $(seq 1200); do
        ! ready_or_gone "$work/$name.clients" "$held" || break
        sleep 0.1
    done
    grep -q ready "$work/$name.clients" || { cat "$work/$name.clients" >&2; die "the clients failed"; }
    # Let the last workers settle into their reads.
    sleep 1
    after=$(rss_kib "$server_pid")
    read -r stacks_after heap_after _ < <(rss_parts "$server_pid")
    kill "$held"
    wait "$held" 2>/dev/null || true
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    printf '| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f |\n' "$name" "$count" "$(bc -l <<<"$before/1024")" \
        "$(bc -l <<<"$after/1024")" "$(bc -l <<<"($after-$before)/$count")" \
        "$(bc -l <<<"($stacks_after-$stacks_before)/$count")" "$(bc -l <<<"($heap_after-$heap_before)/$count")"
}

echo "server RSS with $count served-but-idle connections (tcpack server --quiet ${SERVER_ARGS:-})"
echo "| case | connections | RSS before, MiB | RSS with them, MiB | KiB per connection | of it stack | of it heap |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for case in ${CASES:-raw line tls}; do
    case "$case" in
        raw) measure raw "" --framing raw ;;
        line) measure line "" --framing line ;;
        tls) measure tls --tls --framing line --tls-cert "$work/tls.pem" --tls-key "$work/tls.key" ;;
        *) usage_error "unknown case '$case' in CASES (raw, line, tls)" ;;
    esac
done
