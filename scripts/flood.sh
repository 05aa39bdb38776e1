#!/usr/bin/env bash
# flood.sh HOST PORT CLIENTS MESSAGES
# Starts CLIENTS concurrent nc clients, each sending MESSAGES lines, counts
# the acks they get back and prints `sent=… acked=… lost=…`.
# Exit status: 0 when every line was acked, 1 when any ack is missing.
# Acks are counted as lines, so run the server with --framing line (raw
# framing acks each read, which may hold several lines).
# Limits: CLIENTS up to 1000, MESSAGES up to 100000; nc gives up after
# NC_TIMEOUT seconds of silence (default 10).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "$0")/common.sh"

case "${1:-}" in -h|--help) show_help; exit 0 ;; esac
[ $# -eq 4 ] || usage_error "expected HOST PORT CLIENTS MESSAGES, got $# arguments"
host=$1 port=$2 clients=$3 messages=$4
check_port "$port"
check_count CLIENTS "$clients" 1000
check_count MESSAGES "$messages" 100000
need_nc

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq "$clients"); do
    seq -f "client $i message %g" "$messages" >"$work/in.$i"
done
for i in $(seq "$clients"); do
    nc -N -w "$NC_TIMEOUT" "$host" "$port" <"$work/in.$i" >"$work/out.$i" 2>"$work/err.$i" &
done
wait || true

sent=$((clients * messages))
# A client turned away gets one notice line, which is no ack.
notices=(-e '^server busy$' -e '^server shutting down$')
acked=$(cat "$work"/out.* | grep -cv "${notices[@]}" || true)
lost=$((sent > acked ? sent - acked : 0))
echo "sent=$sent acked=$acked lost=$lost"
if [ "$lost" -gt 0 ]; then
    busy=$(cat "$work"/out.* | grep -c '^server busy' || true)
    [ "$busy" -eq 0 ] || echo "note: $busy clients were told 'server busy'" >&2
    echo "error: $lost acks missing (is the server running with --framing line?)" >&2
    exit 1
fi
