#!/usr/bin/env bash
# What the web console costs: rr -c 64 against four servers, in interleaved
# rounds, pinned as scripts/bench.sh does (servers on CPU 0, the load and
# the viewers on CPU 1): no --web; --web with no page open; --web with one
# viewer reading the event stream as fast as it comes (curl -N); --web with
# one viewer that stopped reading. Prints, per case, the median and range of
# the per-round ratios of msgs/s to the no --web server's, and the load.
#
# Usage: scripts/bench-web.sh   (ROUNDS=N, default 5; ROUND_N=N messages per connection, default 3000)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/common.sh
source scripts/common.sh

ROUNDS=${ROUNDS:-5}
ROUND_N=${ROUND_N:-3000}
check_count ROUNDS "$ROUNDS" 100
pin_cores "load generator and viewers"
target=${CARGO_TARGET_DIR:-target}
cargo build --release --locked --quiet
tcpack=$target/release/tcpack
make_workdir

declare -A pid addr web
serve() {
    local name=$1
    shift
    start_listening "$work/$name.log" "${on_server[@]}" "$tcpack" server --bind 127.0.0.1:0 --framing line --quiet "$@"
    pid[$name]=$server_pid
    addr[$name]=127.0.0.1:$port
    web[$name]=$(grep -m1 -o 'http://[0-9.:]*/' "$work/$name.log" || true)
}
serve plain
serve web-idle --web 127.0.0.1:0
serve web-viewer --web 127.0.0.1:0
serve web-stalled --web 127.0.0.1:0

# One viewer reading everything, one that reads the first bytes and stops.
"${on_client[@]}" curl -sN "${web[web-viewer]}events" >/dev/null &
viewer=$!
"${on_client[@]}" python3 -c '
import socket, sys, time
host, port = sys.argv[1].removeprefix("http://").rstrip("/").rsplit(":", 1)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((host, int(port)))
s.sendall(f"GET /events HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
s.recv(1024)
time.sleep(3600)
' "${web[web-stalled]}" &
stalled=$!
trap 'kill $viewer $stalled 2>/dev/null; cleanup_workdir' EXIT

servers=(plain web-idle web-viewer web-stalled)
: >"$work/rounds.txt"
for ((r = 1; r <= ROUNDS; r++)); do
    shift_by=$(( (r - 1) % ${#servers[@]} ))
    order=("${servers[@]:shift_by}" "${servers[@]:0:shift_by}")
    for server in "${order[@]}"; do
        echo "bench-web: round $r/$ROUNDS, rr -c 64 -n $ROUND_N against $server" >&2
        rate=$("${on_client[@]}" "$tcpack" bench "${addr[$server]}" --scenario rr -c 64 -n "$ROUND_N" \
            -d 120 --timeout 60 --warmup 0 --json 2>/dev/null \
            | python3 -c 'import json, sys; print(json.load(sys.stdin)["ops_per_sec"])')
        echo "$r $server $rate" >>"$work/rounds.txt"
    done
done
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $pinned, $ROUNDS rounds of rr -c 64 -n $ROUND_N"
python3 - "$work/rounds.txt" <<'PY'
import statistics, sys
rates = {}
for line in open(sys.argv[1]):
    r, server, rate = line.split()
    rates.setdefault(server, {})[int(r)] = float(rate)
base = rates["plain"]
print(f"{'case':<12} {'median msgs/s':>14} {'ratio to plain (median, range)':>34}")
for server, by_round in rates.items():
    ratios = [by_round[r] / base[r] for r in by_round if r in base]
    print(f"{server:<12} {statistics.median(by_round.values()):>14.0f} "
          f"{statistics.median(ratios):>13.3f} ({min(ratios):.3f}..{max(ratios):.3f})")
PY
