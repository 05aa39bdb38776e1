#!/usr/bin/env bash
# slow.sh HOST PORT [TEXT] [DELAY]
# A slow client: trickles TEXT (default "slow client") and a newline one byte
# at a time, DELAY seconds apart (default 0.2), over one nc connection, and
# prints the acks. Watch how the server frames it (--framing raw acks every
# byte, line acks the line) and how --idle-timeout treats the pauses.
# Limits: TEXT up to 1000 bytes, DELAY from 0 to 60 seconds.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "$0")/common.sh"

case "${1:-}" in -h|--help) show_help; exit 0 ;; esac
if [ $# -lt 2 ] || [ $# -gt 4 ]; then
    usage_error "expected HOST PORT [TEXT] [DELAY], got $# arguments"
fi
host=$1 port=$2 text=${3:-slow client} delay=${4:-0.2}
check_port "$port"
[ "${#text}" -le 1000 ] || usage_error "TEXT is longer than 1000 bytes"
if ! [[ "$delay" =~ ^[0-9]+(\.[0-9]+)?$ ]] || ! awk -v d="$delay" 'BEGIN { exit !(d <= 60) }'; then
    usage_error "DELAY '$delay' must be seconds from 0 to 60"
fi
need_nc

trickle() {
    local bytes i
    bytes=$(printf '%s\n' "$text" | od -An -v -tx1)
    for i in $bytes; do
        printf '%b' "\\x$i"
        sleep "$delay"
    done
}
trickle | nc -N -w "$NC_TIMEOUT" "$host" "$port"
