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
say_args "$@"
need_nc

errors=$(mktemp)
trap 'rm -f "$errors"' EXIT
if ! open_peer nc -N -w "$NC_TIMEOUT" "$host" "$port"; then
    die "$host:$port closed the connection (or refused it) before acking '${say_messages[0]}' $(cat "$errors")"
fi
for message in "${say_messages[@]}"; do
    if ! { printf '%s\n' "$message" >&"$to_peer"; } 2>/dev/null; then
        die "$host:$port closed the connection (or refused it) before acking '$message' $(cat "$errors")"
    fi
    status=0
    IFS= read -r -t "$NC_TIMEOUT" ack <&"$from_peer" || status=$?
    if [ "$status" -gt 128 ]; then
        die "no ack for '$message' from $host:$port within $NC_TIMEOUT s"
    elif [ "$status" -ne 0 ]; then
        die "$host:$port closed the connection (or refused it) before acking '$message' $(cat "$errors")"
    fi
    printf '%s\n' "$ack"
done
exec {to_peer}>&-
if [ -n "$peer_pid" ]; then wait "$peer_pid" 2>/dev/null || true; fi
