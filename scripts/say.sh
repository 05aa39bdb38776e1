#!/usr/bin/env bash
# say.sh HOST PORT MESSAGE...
# Sends each MESSAGE as a line over one nc connection, waits for its ack and
# prints it, so even a --framing raw server acks each message exactly once.
# Exit status: 0 when every message was acked, 1 when an ack did not come
# within NC_TIMEOUT seconds (default 10) or the server closed first.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "$0")/common.sh"

case "${1:-}" in -h|--help) show_help; exit 0 ;; esac
[ $# -ge 3 ] || usage_error "expected HOST PORT MESSAGE..., got $# arguments"
host=$1 port=$2
shift 2
check_port "$port"
[ $# -le 10000 ] || usage_error "at most 10000 messages"
need_nc

errors=$(mktemp)
trap 'rm -f "$errors"' EXIT
coproc NC { nc -N -w "$NC_TIMEOUT" "$host" "$port" 2>"$errors"; }
# Once nc has exited, bash unsets NC and NC_PID and closes NC's descriptors,
# perhaps before its last ack is read: keep a pid and descriptors of our own.
nc_pid=${NC_PID:-}
if ! { exec {to_nc}>&"${NC[1]:-}" {from_nc}<&"${NC[0]:-}"; } 2>/dev/null; then
    die "$host:$port closed the connection (or refused it) before acking '$1' $(cat "$errors")"
fi
for message in "$@"; do
    if ! { printf '%s\n' "$message" >&"$to_nc"; } 2>/dev/null; then
        die "the connection to $host:$port closed before '$message' was sent $(cat "$errors")"
    fi
    status=0
    IFS= read -r -t "$NC_TIMEOUT" ack <&"$from_nc" || status=$?
    if [ "$status" -gt 128 ]; then
        die "no ack for '$message' from $host:$port within $NC_TIMEOUT s"
    elif [ "$status" -ne 0 ]; then
        die "$host:$port closed the connection (or refused it) before acking '$message' $(cat "$errors")"
    fi
    printf '%s\n' "$ack"
done
exec {to_nc}>&-
if [ -n "$nc_pid" ]; then wait "$nc_pid" 2>/dev/null || true; fi
