#!/usr/bin/env bash
# What the Modbus register table costs (docs/modbus.md), in interleaved
# rounds on loopback, the server on CPU 0 and the load on CPU 1 (as
# scripts/bench.sh): rr -c 64 of a Modbus TCP read of 10 holding registers
# (function 3, `--hex "00 01 00 00 01 03 00 00 00 0A"` under --framing
# len:u16be@4) against the static rules of bench/modbus-static.toml (a hex
# rule and a fixed answer, today's way) and against the register table
# bench/modbus-table.toml, which answers the same bytes. Prints each round,
# the median and range of the table's msgs/s over the rules', and of its
# CPU per message, with the load average before and after. Each run has a
# second of warm-up, not counted: without it, the server that had just run
# was the faster one in every round, which swamped the difference.
#
# Usage: scripts/bench-modbus.sh [ROUNDS]   (default 5; N=messages per connection, default 3000)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/common.sh
source scripts/common.sh
case "${1:-}" in -h|--help) show_help; exit 0 ;; esac
ROUNDS=${1:-5}
check_count ROUNDS "$ROUNDS" 50
N=${N:-3000}
check_count N "$N" 1000000
pin_cores "load"
cargo build --release --locked --quiet
tcpack=${CARGO_TARGET_DIR:-target}/release/tcpack
make_workdir

declare -A addr pid
serve() {
    local name=$1
    shift
    start_listening "$work/$name.log" "${on_server[@]}" "$@"
    addr[$name]=127.0.0.1:$port
    pid[$name]=$server_pid
}
serve rules "$tcpack" server --bind 127.0.0.1:0 --framing len:u16be@4 --quiet --rules bench/modbus-static.toml
serve table "$tcpack" server --bind 127.0.0.1:0 --framing len:u16be@4 --quiet --modbus bench/modbus-table.toml

# Both must give the same answer: the transaction, protocol and unit ids,
# then 10 registers, 1 to 10.
for server in rules table; do
    python3 - "${addr[$server]}" <<'PY' || die "$server did not answer a read of 10 registers as expected"
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
with socket.create_connection((host, int(port)), timeout=5) as s:
    s.sendall(bytes.fromhex("00 01 00 00 00 06 01 03 00 00 00 0A"))
    want = bytes.fromhex("00 01 00 00 00 17 01 03 14") + b"".join(i.to_bytes(2, "big") for i in range(1, 11))
    got = b""
    while len(got) < len(want):
        chunk = s.recv(len(want) - len(got))
        if not chunk:
            break
        got += chunk
    sys.exit(0 if got == want else f"got {got.hex(' ')}")
PY
done

# rr SERVER: "msgs/s CPU-µs/msg" of one rr -c 64 run.
rr() {
    "${on_client[@]}" "$tcpack" bench "${addr[$1]}" -c 64 -n "$N" -d 120 --warmup 1 --json \
        --framing len:u16be@4 --hex "00 01 00 00 01 03 00 00 00 0A" --server-pid "${pid[$1]}" 2>/dev/null \
        | python3 -c 'import json, sys; r = json.load(sys.stdin); assert r["errors"] == 0, r; print(r["ops_per_sec"], r["server"]["cpu_us_per_op"])'
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $pinned; $ROUNDS rounds, rr -c 64 -n $N"
speed=() cpu=()
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then read -r a ca < <(rr rules); read -r b cb < <(rr table)
    else read -r b cb < <(rr table); read -r a ca < <(rr rules); fi
    speed+=("$(python3 -c "print(f'{$b / $a:.3f}')")")
    cpu+=("$(python3 -c "print(f'{($cb / $ca) if $ca else 0:.3f}')")")
    printf 'round %d: static rules %.0f msgs/s (%.1f CPU µs/msg), table %.0f msgs/s (%.1f CPU µs/msg): x%s msgs/s\n' \
        "$r" "$a" "$ca" "$b" "$cb" "${speed[-1]}"
done
summary() {
    python3 -c 'import statistics, sys; v = sorted(map(float, sys.argv[2:])); print(f"{sys.argv[1]}: median x{statistics.median(v):.3f}, range x{v[0]:.3f}..x{v[-1]:.3f}")' "$@"
}
summary "table vs static rules, msgs/s (target >= x0.9)" "${speed[@]}"
summary "table vs static rules, server CPU per message" "${cpu[@]}"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
