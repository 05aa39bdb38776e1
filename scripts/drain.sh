#!/usr/bin/env bash
# drain.sh [CLIENTS]
# Checks a graceful shutdown end to end with nc: starts tcpack on a free
# loopback port (--framing line), opens CLIENTS nc clients (default 4) that
# each send lines and get their acks, sends the server SIGINT mid-conversation,
# then checks that
#   - a client connecting during the drain is told `server shutting down`,
#   - the open clients are still served and every line they sent was acked,
#   - the server exits 0 with its summary.
# Uses $TCPACK, or target/release/tcpack (built if missing). Exit 0 on success.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "$0")/common.sh"

case "${1:-}" in -h|--help) show_help; exit 0 ;; esac
clients=${1:-4}
check_count CLIENTS "$clients" 100
need_nc

make_workdir

start_server "$work/server.log" --framing line --drain-timeout 10
echo "server listening on 127.0.0.1:$port (pid $server_pid)"

# Each client's stdin is a FIFO we hold open, so its connection stays up.
for i in $(seq "$clients"); do
    mkfifo "$work/in.$i"
    nc -N -w "$NC_TIMEOUT" 127.0.0.1 "$port" <"$work/in.$i" >"$work/out.$i" &
    eval "exec {fd_$i}>\"$work/in.$i\""
done
for i in $(seq "$clients"); do
    fd_var="fd_$i"
    printf 'client %s before 1\nclient %s before 2\n' "$i" "$i" >&"${!fd_var}"
done
for i in $(seq "$clients"); do
    wait_until "client $i's acks" lines_in "$work/out.$i" 2
done
echo "$clients clients connected, 2 lines each acked; sending SIGINT"

kill -INT "$server_pid"
wait_until "the drain to start" grep -q "shutting down:" "$work/server.log"
late=$(echo "too late" | nc -N -w "$NC_TIMEOUT" 127.0.0.1 "$port" || true)
[ "$late" = "server shutting down" ] || die "a client arriving during the drain got '$late', not 'server shutting down'"
echo "a late client was told: $late"

for i in $(seq "$clients"); do
    fd_var="fd_$i"
    printf 'client %s during the drain\n' "$i" >&"${!fd_var}"
    eval "exec ${!fd_var}>&-"
done
wait_until "the server to exit" bash -c "! kill -0 $server_pid 2>/dev/null"
status=0
wait "$server_pid" || status=$?
server_pid=""

sent=$((clients * 3))
acked=$(cat "$work"/out.* | grep -c '' || true)
echo "--- server log (last lines) ---"
tail -n 3 "$work/server.log"
echo "sent=$sent acked=$acked lost=$((sent - acked)) exit=$status"
[ "$status" -eq 0 ] || die "the server exited with status $status, not 0"
[ "$acked" -eq "$sent" ] || die "$((sent - acked)) acks missing"
grep -q "stopped:.* $clients connections, $sent messages" "$work/server.log" \
    || die "the summary does not count $clients connections and $sent messages"
echo "ok: every line was acked, the late client was turned away, the server drained and exited 0"
