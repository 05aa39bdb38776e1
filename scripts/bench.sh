#!/usr/bin/env bash
# The benchmark suite behind `make bench`: tcpack, a tokio baseline and the
# tutorial's Python server, side by side on loopback, same scenarios.
#
# First the rounds (issue 20's way): each round runs every server of the
# comparisons in turn (interleaved), rr -c 64 and TLS handshakes; each
# comparison's ratio is taken per round and printed as the median and range
# over the rounds. Where the machine has two CPUs or more, servers run on
# CPU 0 and the load generator on CPU 1 (taskset); CPU time comes from
# /proc/PID/stat. Then one run of every scenario, with ratios against tokio.
# Prints the tables and stores the JSON in bench/results/.
#
# Usage: scripts/bench.sh [--quick] [--udp-only] [--rounds-only] [--relay-only] [--tls-only]
#   --quick (or QUICK=1): shorter runs and 5 rounds, under 2 minutes with
#   --rounds-only; --udp-only: only the UDP rows; --relay-only: only the
#   relay's rounds (tcpack relay, a tokio relay and a std-threads relay in front of tcpack, and
#   tcpack direct); --tls-only: only the TLS rounds (rr and handshakes
#   against tcpack TLS and tokio-rustls, and plain tcpack); ROUNDS=N:
#   rounds (default 7).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/common.sh
source scripts/common.sh

SECS=5; WARM=1; FAIR_N=2000; IDLE_N=100; TCP=true; ONE_RUN=true; RELAY_ONLY=false; TLS_ONLY=false
# Rounds: rr messages per connection, handshakes' seconds.
ROUND_N=3000; ROUND_SECS=3; QUICK=${QUICK:-}
for arg in "$@"; do
    case "$arg" in
        -h|--help) show_help; exit 0 ;;
        --quick) QUICK=1 ;;
        --udp-only) TCP=false ;;
        --rounds-only) ONE_RUN=false ;;
        --relay-only) RELAY_ONLY=true ONE_RUN=false ;;
        --tls-only) TLS_ONLY=true ONE_RUN=false ;;
        *) usage_error "unknown argument '$arg'" ;;
    esac
done
if [ -n "$QUICK" ]; then
    SECS=1; WARM=0.5; FAIR_N=200; IDLE_N=20; ROUND_N=1000; ROUND_SECS=1
    ROUNDS=${ROUNDS:-5}
fi
ROUNDS=${ROUNDS:-7}
check_count ROUNDS "$ROUNDS" 100
# Servers on CPU 0, the load generator on CPU 1, where there are two.
pin_cores "load generator"

cargo build --release --locked --quiet
cargo build --release --locked --quiet --example tokio_tls_baseline
cargo build --release --locked --quiet --example tokio_baseline
cargo build --release --locked --quiet --example tokio_udp_baseline
cargo build --release --locked --quiet --example std_baseline
cargo build --release --locked --quiet --example tokio_relay_baseline
cargo build --release --locked --quiet --example std_relay_baseline
tcpack=target/release/tcpack
make_workdir

if $TCP; then
    serve tcpack "$tcpack" server --bind 127.0.0.1:0 --framing line --quiet
    # TLS: tcpack and tokio-rustls with one certificate (ECDSA P-256, as
    # --tls-self-signed makes), made for this run.
    make_test_cert
    serve tls "$tcpack" server --bind 127.0.0.1:0 --framing line --quiet --tls-cert "$work/tls.pem" --tls-key "$work/tls.key"
    serve tokio-tls target/release/examples/tokio_tls_baseline 127.0.0.1:0 "$work/tls.pem" "$work/tls.key"
    # The same, with 20 rules to try per message (bench/rules20.toml).
    serve rules20 "$tcpack" server --bind 127.0.0.1:0 --framing line --quiet --rules bench/rules20.toml
    # And with state: 5 of them checking conn.*, every message counted in global.* (bench/state20.toml).
    serve state20 "$tcpack" server --bind 127.0.0.1:0 --framing line --quiet --rules bench/state20.toml
    serve tokio target/release/examples/tokio_baseline 127.0.0.1:0
    serve tcpack-w64 "$tcpack" server --bind 127.0.0.1:0 --framing line --quiet --workers 64
    serve std target/release/examples/std_baseline 127.0.0.1:0
    serve python python3 -u bench/tutorial_server.py 0
    # Relays in front of the tcpack server above: tcpack's, tokio's
    # copy_bidirectional, and std threads (one per direction), the design's floor.
    serve relay "$tcpack" relay --bind 127.0.0.1:0 --to "${addr[tcpack]}" --framing line --quiet
    serve tokio-relay target/release/examples/tokio_relay_baseline 127.0.0.1:0 "${addr[tcpack]}"
    serve std-relay target/release/examples/std_relay_baseline 127.0.0.1:0 "${addr[tcpack]}"
fi
# Unlimited: every bench client sends from 127.0.0.1, one address for the rate limit.
serve tcpack-udp "$tcpack" server --bind 127.0.0.1:0 --proto udp --quiet --udp-rate 0
serve tokio-udp target/release/examples/tokio_udp_baseline 127.0.0.1:0
serve python-udp python3 -u bench/tutorial_udp_server.py 0

# run SERVER SCENARIO ARGS...: one bench run, its JSON appended to the results.
run() {
    local server=$1 scenario=$2; shift 2
    echo "bench: $scenario against $server $*" >&2
    "${on_client[@]}" "$tcpack" bench "${addr[$server]}" --scenario "$scenario" --json \
        --server-pid "${pid[$server]}" "$@" 2>/dev/null \
        | python3 bench/table.py --tag "$server" "$scenario $*" >>"$work/results.jsonl"
}

# idle_cpu SERVER: CPU ticks the server used over 5 s of doing nothing.
idle_cpu() {
    local before after
    before=$(awk '{print $14+$15}' "/proc/${pid[$1]}/stat")
    sleep 5
    after=$(awk '{print $14+$15}' "/proc/${pid[$1]}/stat")
    echo "{\"server_name\":\"$1\",\"case\":\"idle-cpu 5s\",\"cpu_ticks\":$((after - before))}" >>"$work/results.jsonl"
}

# round N SERVER SCENARIO ARGS...: one server's run in round N, its JSON
# appended to the rounds' results.
round() {
    local number=$1 server=$2 scenario=$3; shift 3
    echo "bench: round $number/$ROUNDS, $scenario against $server $*" >&2
    "${on_client[@]}" "$tcpack" bench "${addr[$server]}" --scenario "$scenario" --json \
        --server-pid "${pid[$server]}" "$@" 2>/dev/null \
        | python3 bench/table.py --tag "$server" "$scenario $*" \
        | python3 -c 'import json, sys; r = json.load(sys.stdin); r["round"] = int(sys.argv[1]); print(json.dumps(r))' "$number" \
        >>"$work/rounds.jsonl"
}

if $TCP; then
    rr_servers=(tcpack tcpack-w64 std tokio tls tokio-tls rules20 state20 relay tokio-relay std-relay)
    if $RELAY_ONLY; then
        rr_servers=(tcpack relay tokio-relay std-relay)
    elif $TLS_ONLY; then
        rr_servers=(tcpack tls tokio-tls)
    fi
    for ((r = 1; r <= ROUNDS; r++)); do
        # Each round starts with another server, so none always runs first.
        shift_by=$(( (r - 1) % ${#rr_servers[@]} ))
        order=("${rr_servers[@]:shift_by}" "${rr_servers[@]:0:shift_by}")
        for server in "${order[@]}"; do
            tls=()
            case "$server" in tls|tokio-tls) tls=(--tls --insecure) ;; esac
            round "$r" "$server" rr -c 64 -n "$ROUND_N" -d 120 --timeout 60 --warmup 0 "${tls[@]}"
        done
        if ! $RELAY_ONLY; then
            for server in tls tokio-tls; do
                round "$r" "$server" conn -c 16 -d "$ROUND_SECS" --warmup 0 --tls --insecure
            done
        fi
    done
    python3 bench/table.py --rounds "$work/rounds.jsonl" "$pinned" "$ROUNDS"
fi
if ! $ONE_RUN; then
    mkdir -p bench/results
    out="bench/results/$(date -u +%Y%m%dT%H%M%SZ)-rounds.jsonl"
    cp "$work/rounds.jsonl" "$out"
    echo "results: $out"
    exit 0
fi

if $TCP; then
    idle_cpu tcpack
    idle_cpu tokio
    # Alternating servers within each case spreads the machine's noise over both.
    for server in tcpack tokio rules20 state20; do run "$server" rr -c 64 -d "$SECS" --warmup "$WARM"; done
    for server in tcpack tokio; do run "$server" conn -c 16 -d "$SECS" --warmup "$WARM"; done
    for server in tcpack tokio; do run "$server" pipeline -c 16 --depth 16 -d "$SECS" --warmup "$WARM"; done
    # TLS: conn is a full handshake per connection (the bench resumes no session).
    for server in tls tokio-tls; do run "$server" rr -c 64 -d "$SECS" --warmup "$WARM" --tls --insecure; done
    for server in tls tokio-tls; do run "$server" conn -c 16 -d "$SECS" --warmup "$WARM" --tls --insecure; done
    # Counted runs: every message is measured, from the first.
    for server in tcpack tokio python; do run "$server" rr -c 16 -n "$FAIR_N" -d 120 --timeout 120 --warmup 0; done
    for server in tcpack tokio; do run "$server" idle --idle 1000 -n "$IDLE_N" -d 60 --warmup 0; done
fi
idle_cpu tcpack-udp
# 64 client sockets, each waiting for its answer: the UDP twin of rr -c 64.
for server in tcpack-udp tokio-udp python-udp; do run "$server" rr --udp -c 64 -d "$SECS" --warmup "$WARM"; done

mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="bench/results/$stamp.json"
python3 bench/table.py "$work/results.jsonl" "$out"
if [ -s "$work/rounds.jsonl" ]; then
    cp "$work/rounds.jsonl" "bench/results/$stamp-rounds.jsonl"
    echo "rounds: bench/results/$stamp-rounds.jsonl"
fi
