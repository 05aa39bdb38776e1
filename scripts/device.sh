#!/usr/bin/env bash
# device.sh
# Simulates a device with scripted answers and drives it with nc: starts a
# server on a free loopback port with the rules in examples/device.toml, a
# greeting and a heartbeat every second, and its console on a pipe; one nc
# client sends commands and gets their answers, receives a heartbeat, then a
# /send from the console, and leaves with QUIT. Prints the client's session
# and the server's log. Uses $TCPACK, or target/release/tcpack (built if
# missing). Exit 0 when every answer came as expected.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "$0")/common.sh"

case "${1:-}" in -h|--help) show_help; exit 0 ;; esac
[ $# -eq 0 ] || usage_error "device.sh takes no arguments"
need_nc
root=$(cd "$(dirname "$0")/.." && pwd)

make_workdir
mkfifo "$work/console" "$work/to_device"
# Held open for writing so neither pipe sees end of input while we talk.
exec {console}<>"$work/console"

SERVER_STDIN="$work/console" start_server "$work/server.log" --framing line \
    --rules "$root/examples/device.toml" --reply 'ERR unknown command: {msg}\n' \
    --greeting 'THERMO-1 ready, you are connection {conn}\n' \
    --push 'HEARTBEAT {seq}\n' --push-every 1s --console
echo "== device listening on 127.0.0.1:$port"

nc -N -w "$NC_TIMEOUT" 127.0.0.1 "$port" <"$work/to_device" >"$work/session" &
nc_pid=$!
exec {to_device}>"$work/to_device"

# say TEXT EXPECTED: sends a line and waits (bounded) until EXPECTED shows up.
say() {
    printf '%s\n' "$1" >&"$to_device"
    echo "> $1"
    wait_until "an answer to '$1' containing '$2'" grep -qF -- "$2" "$work/session"
}

wait_until "the greeting" grep -q "THERMO-1 ready" "$work/session"
say "PING" "PONG"
say "READ temp" "VALUE temp=21.5"
say "SET temp 22.5" "OK temp=22.5"
say "SLOW query" "DONE SLOW query"
say "HELLO?" "ERR unknown command: HELLO?"
wait_until "a heartbeat" grep -q "HEARTBEAT" "$work/session"
echo "/send 1 CONFIG interval=5" >&"$console"
wait_until "the console's push" grep -q "CONFIG interval=5" "$work/session"
say "QUIT" "BYE"
exec {to_device}>&-
wait_until "nc to end" bash -c "! kill -0 $nc_pid 2>/dev/null"

echo "== what the client saw"
cat "$work/session"
stop_server "$work/server.log"
grep -q 'closed: closed by rule' "$work/server.log" || die "QUIT did not close the connection"
echo "== the device answered every command"
