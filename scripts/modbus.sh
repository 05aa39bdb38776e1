#!/usr/bin/env bash
# modbus.sh
# Simulates a Modbus TCP device and polls it with mbpoll: starts a server on
# a free loopback port with --framing len:u16be@4 and the rules in
# examples/modbus.toml, reads two holding registers (21 and 42), writes 1234
# into register 1 (the device echoes it), and asks for coils, a function the
# device does not have (exception 01, illegal function). Prints mbpoll's
# output and the server's log. Uses $TCPACK, or target/release/tcpack (built
# if missing). Exit 0 when every answer came as expected.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "$0")/common.sh"

case "${1:-}" in -h|--help) show_help; exit 0 ;; esac
[ $# -eq 0 ] || usage_error "modbus.sh takes no arguments"
command -v mbpoll >/dev/null 2>&1 || die "mbpoll is not installed: install it (apt-get install mbpoll)"
root=$(cd "$(dirname "$0")/.." && pwd)

make_workdir
start_server "$work/server.log" --framing len:u16be@4 --rules "$root/examples/modbus.toml"
echo "== Modbus TCP device listening on 127.0.0.1:$port"

# poll WHAT EXPECTED MBPOLL-ARGS...: runs mbpoll (unit 1, from register 1,
# a 5 s timeout) and checks that its output contains EXPECTED.
poll() {
    local what=$1 expected=$2 out
    shift 2
    echo "\$ mbpoll -m tcp -a 1 -r 1 -p $port $*"
    out=$(mbpoll -m tcp -a 1 -r 1 -p "$port" -o 5 "$@" 2>&1) || true
    sed -n '/^-- Polling\|^\[\|^Written\|failed/p' <<<"$out"
    grep -qF -- "$expected" <<<"$out" || die "$what: mbpoll did not say '$expected'; it said: $out"
}

poll "reading two holding registers" $'[2]: \t42' -c 2 -1 127.0.0.1
poll "writing a register" "Written 1 references." 127.0.0.1 1234
poll "reading coils" "Illegal function" -t 0 -c 2 -1 127.0.0.1

stop_server "$work/server.log"
echo "== the device answered every request"
