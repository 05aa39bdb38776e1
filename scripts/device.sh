#!/usr/bin/env bash
# device.sh
# Simulates a device that remembers and drives it with nc: starts a server
# on a free loopback port with the rules in examples/device.toml, a greeting
# and a heartbeat every second, and its console on a pipe; one nc client
# sends commands and gets their answers (a SET refused until it logs in, then
# read back; a status sequence; a calibration that fails the third time),
# receives a heartbeat, then a /send from the console, and leaves with QUIT;
# a second nc client reads the value the first one set and is refused a SET
# of its own (the login is per connection). Prints both sessions and the
# server's log. Uses $TCPACK, or target/release/tcpack (built if missing).
# Exit 0 when every answer came as expected.
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

# say TEXT EXPECTED: sends a line and waits (bounded) until one more line
# containing EXPECTED shows up (a sequence may answer the same twice).
say() {
    local before
    before=$(grep -cF -- "$2" "$work/session" || true)
    printf '%s\n' "$1" >&"$to_device"
    echo "> $1"
    wait_until "an answer to '$1' containing '$2'" more_lines "$2" "$before"
}

# more_lines TEXT N: whether more than N lines of the session contain TEXT.
more_lines() {
    [ "$(grep -cF -- "$1" "$work/session" || true)" -gt "$2" ]
}

wait_until "the greeting" grep -q "THERMO-1 ready" "$work/session"
say "PING" "PONG"
say "READ temp" "VALUE temp=21.5"
say "SET temp 22.5" "ERR LOGIN first"
say "LOGIN bob secret" "WELCOME bob"
say "SET temp 22.5" "OK temp=22.5 (set by bob)"
say "READ temp" "VALUE temp=22.5"
say "STATUS" "BUSY warming up"
say "STATUS" "BUSY"
say "STATUS" "READY"
say "CALIBRATE" "CALIBRATED"
say "CALIBRATE" "CALIBRATED"
say "CALIBRATE" "ERR calibration drift"
say "CALIBRATE" "CALIBRATED"
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
echo "== a second client"
printf 'READ temp\nSET temp 30\nWRITES\n' | nc -N -w "$NC_TIMEOUT" 127.0.0.1 "$port" | tee "$work/second"
grep -q 'VALUE temp=22.5' "$work/second" || die "the second client did not read the value the first set"
grep -q 'ERR LOGIN first' "$work/second" || die "the second client could SET without a login"
stop_server "$work/server.log"
grep -q 'closed: closed by rule' "$work/server.log" || die "QUIT did not close the connection"
echo "== the device answered every command"
