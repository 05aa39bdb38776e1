#!/usr/bin/env bash
# demo.sh [CLIENTS] [LINES]
# A tour of tcpack: starts a server on a free loopback port (--framing line),
# drives it with CLIENTS concurrent nc clients (default 4) sending LINES lines
# each (default 5), checks that every line was acked, stops the server with
# SIGINT and shows its log, drained summary included.
# Uses $TCPACK, or target/release/tcpack (built if missing). Exit 0 on success.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "$0")/common.sh"

case "${1:-}" in -h|--help) show_help; exit 0 ;; esac
clients=${1:-4} lines=${2:-5}
check_count CLIENTS "$clients" 100
check_count LINES "$lines" 1000
need_nc

make_workdir

start_server "$work/server.log" --framing line
echo "== tcpack listening on 127.0.0.1:$port; $clients clients send $lines lines each"
client_pids=()
for i in $(seq "$clients"); do
    seq -f "hello from client $i, line %g" "$lines" | nc -N -w "$NC_TIMEOUT" 127.0.0.1 "$port" >"$work/acks.$i" &
    client_pids+=($!)
done
for pid in "${client_pids[@]}"; do
    wait "$pid" || die "an nc client failed"
done
for i in $(seq "$clients"); do
    got=$(grep -c '' "$work/acks.$i" || true)
    [ "$got" -eq "$lines" ] || die "client $i got $got acks for $lines lines"
done
echo "== every client got its $lines acks; sending SIGINT"

stop_server "$work/server.log"
grep -q "stopped:.* $clients connections, $((clients * lines)) messages" "$work/server.log" \
    || die "the summary does not count $clients connections and $((clients * lines)) messages"
echo "== the server drained and exited 0"
