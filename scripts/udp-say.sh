#!/usr/bin/env bash
# udp-say.sh HOST PORT MESSAGE...
# Sends each MESSAGE and a newline as one UDP datagram with nc -u (all from
# one source port), waits for the answer datagram and prints it. The server
# needs --proto udp or --proto both. Answers are read as lines, as tcpack's
# ack ends with one.
# Exit status: 0 when every message was answered, 1 when nothing listens
# there (ICMP port unreachable) or an answer did not come within NC_TIMEOUT
# seconds (default 10): UDP may lose a datagram, and a server over its
# --udp-rate for this address does not answer.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "$0")/common.sh"

case "${1:-}" in -h|--help) show_help; exit 0 ;; esac
say_args "$@"
need_nc

errors=$(mktemp)
peer_pid=""
cleanup() {
    [ -z "$peer_pid" ] || kill "$peer_pid" 2>/dev/null || true
    rm -f "$errors"
}
trap cleanup EXIT
if ! open_peer nc -u -w "$NC_TIMEOUT" "$host" "$port"; then
    die "nc could not send to $host:$port $(cat "$errors")"
fi
for message in "${say_messages[@]}"; do
    if ! { printf '%s\n' "$message" >&"$to_peer"; } 2>/dev/null; then
        die "nothing answers on udp $host:$port (port unreachable) $(cat "$errors")"
    fi
    status=0
    answer=""
    IFS= read -r -t "$NC_TIMEOUT" answer <&"$from_peer" || status=$?
    if [ "$status" -gt 128 ] && [ -z "$answer" ]; then
        die "no answer to '$message' from udp $host:$port within $NC_TIMEOUT s"
    elif [ "$status" -ne 0 ] && [ "$status" -le 128 ]; then
        die "nothing answers on udp $host:$port (port unreachable) before '$message' was answered $(cat "$errors")"
    fi
    printf '%s\n' "$answer"
done
exec {to_peer}>&-
