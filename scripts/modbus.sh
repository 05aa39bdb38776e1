#!/usr/bin/env bash
# modbus.sh
# Simulates a Modbus TCP device with a register table and drives it with
# mbpoll: starts a server on a free loopback port with --framing
# len:u16be@4 and examples/modbus.toml, reads two holding registers (21 and
# 42), writes 1234 into register 1 and three setpoints at once, reads them
# back on a new connection, writes and reads coils, reads past the table
# (exception 02, illegal data address) and the register a rule breaks
# (exception 04, server device failure). Prints mbpoll's output and the
# server's log. Uses $TCPACK, or target/release/tcpack (built if missing).
# Exit 0 when every answer came as expected.
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

# poll WHAT EXPECTED MBPOLL-ARGS...: runs mbpoll (unit 1, a 5 s timeout)
# and checks that its output contains EXPECTED, lines and all.
poll() {
    local what=$1 expected=$2 out
    shift 2
    echo "\$ mbpoll -m tcp -a 1 -p $port $*"
    out=$(mbpoll -m tcp -a 1 -p "$port" -o 5 "$@" 2>&1) || true
    sed -n '/^-- Polling\|^\[\|^Written\|failed/p' <<<"$out"
    [[ "$out" == *"$expected"* ]] || die "$what: mbpoll did not say '$expected'; it said: $out"
}

poll "reading two holding registers" $'[2]: \t42' -r 1 -c 2 -1 127.0.0.1
poll "writing a register" "Written 1 references." -r 1 127.0.0.1 1234
poll "writing three setpoints" "Written 3 references." -r 3 127.0.0.1 10 20 30
poll "reading them back" $'[1]: \t1234\n[2]: \t42\n[3]: \t10\n[4]: \t20\n[5]: \t30' -r 1 -c 5 -1 127.0.0.1
poll "writing coils" "Written 3 references." -t 0 -r 1 127.0.0.1 1 0 1
poll "reading coils back" $'[1]: \t1\n[2]: \t0\n[3]: \t1\n[4]: \t0' -t 0 -r 1 -c 4 -1 127.0.0.1
poll "reading past the table" "Illegal data address" -r 12 -c 3 -1 127.0.0.1
poll "reading the broken register" "Slave device or server failure" -r 100 -1 127.0.0.1

stop_server "$work/server.log"
echo "== the device answered every request"
